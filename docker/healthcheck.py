#!/usr/bin/env python3
"""The image's health check (`vigil-healthcheck`): exit 0 when a URL answers 200, 1 otherwise.

The image has no curl; this needs only the standard library. Docker's HEALTHCHECK and the compose
healthchecks run it inside the container, so it asks the server on loopback:

    vigil-healthcheck [URL]      default $VIGIL_HEALTHCHECK_URL or http://127.0.0.1:9830/-/ready

With a web config file (`--web.config.file`, `web_config_file:`), set in the service's environment:

    VIGIL_HEALTHCHECK_URL=https://127.0.0.1:9830/-/ready    tls_server_config: https
    VIGIL_HEALTHCHECK_CA_FILE=/etc/vigil/ca.pem              verify the certificate against this CA
                                                             (without it, not verified: it is the
                                                             container's own server on loopback)
    VIGIL_HEALTHCHECK_CERT_FILE, VIGIL_HEALTHCHECK_KEY_FILE  a client certificate, when
                                                             client_auth_type requires one
    VIGIL_HEALTHCHECK_USER, VIGIL_HEALTHCHECK_PASSWORD_FILE  basic_auth_users: a user and a file
                                                             holding its password
"""

from __future__ import annotations

import base64
import os
import ssl
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9830/-/ready"
TIMEOUT = 5.0


def main(argv: list[str]) -> int:
    env = os.environ.get
    url = argv[1] if len(argv) > 1 else env("VIGIL_HEALTHCHECK_URL") or DEFAULT_URL
    request = urllib.request.Request(url, headers={"User-Agent": "vigil-healthcheck"})
    user, password_file = env("VIGIL_HEALTHCHECK_USER"), env("VIGIL_HEALTHCHECK_PASSWORD_FILE")
    try:
        if user and password_file:
            with open(password_file, encoding="utf-8") as f:
                password = f.read().rstrip("\r\n")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = None
        if url.startswith("https:"):
            ca_file = env("VIGIL_HEALTHCHECK_CA_FILE")
            if ca_file:
                context = ssl.create_default_context(cafile=ca_file)
                context.check_hostname = False  # 127.0.0.1 is rarely among the names
            else:
                context = ssl._create_unverified_context()
            cert_file = env("VIGIL_HEALTHCHECK_CERT_FILE")
            if cert_file:
                context.load_cert_chain(cert_file, env("VIGIL_HEALTHCHECK_KEY_FILE") or None)
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:  # refused, timed out, TLS, a file not readable, a bad URL
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
