# TLS with certificate verification on both runtimes. Only the ssl API
# differs: CPython's default context, MicroPython's mbedTLS SSLContext.
from drsagent import errors
from drsagent.compat import IS_MICROPYTHON


def wrap(sock, host, cadata):
    """Wrap a connected socket in TLS verified against cadata (PEM bundle) and host."""
    if IS_MICROPYTHON:
        try:
            import ssl  # micropython-lib's ssl.py: load_verify_locations(cadata=...)

            kw = True
        except ImportError:
            # MICROPYPATH without .frozen hides ssl.py; its C core `tls` is built in.
            import tls as ssl

            kw = False
        from binascii import a2b_base64

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        if isinstance(cadata, str):
            cadata = cadata.encode()
        # mbedTLS here only parses DER, one certificate per load_verify_locations call.
        b = b"-----BEGIN CERTIFICATE-----"
        e = b"-----END CERTIFICATE-----"
        i = cadata.find(b)
        d = cadata if i < 0 else None  # no PEM armour: already DER
        n = 0
        while d or i >= 0:
            if d is None:
                j = cadata.find(e, i)
                if j < 0:
                    break
                d = a2b_base64(cadata[i + len(b) : j])
                i = cadata.find(b, j)
            if kw:
                ctx.load_verify_locations(cadata=d)
            else:
                ctx.load_verify_locations(d)
            d = None
            n += 1
            if i < 0:
                break
        if not n:
            raise errors.NetworkError("CA bundle holds no certificate")
    else:
        import ssl

        if not isinstance(cadata, str):
            cadata = bytes(cadata).decode()
        ctx = ssl.create_default_context(cadata=cadata)  # CERT_REQUIRED + check_hostname
    # server_hostname drives both SNI and the hostname check on both runtimes.
    return ctx.wrap_socket(sock, server_hostname=host)
