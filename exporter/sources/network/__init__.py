"""Network probes: async ICMP echo and TCP connect (optionally RTSP OPTIONS) against camera hosts."""
