# TLS with certificate verification on both runtimes. Only the ssl API
# differs: CPython's default context, MicroPython's mbedTLS SSLContext.
from drsagent import errors
from drsagent.compat import IS_MICROPYTHON


def _der_certs(cadata):
    # Yield each certificate of a PEM bundle as DER: MicroPython's mbedTLS
    # build only parses DER, one certificate per load_verify_locations call.
    import binascii

    if isinstance(cadata, str):
        cadata = cadata.encode()
    begin = b"-----BEGIN CERTIFICATE-----"
    end = b"-----END CERTIFICATE-----"
    if begin not in cadata:  # already DER
        yield cadata
        return
    i = 0
    while True:
        i = cadata.find(begin, i)
        if i < 0:
            return
        j = cadata.find(end, i)
        if j < 0:
            return
        yield binascii.a2b_base64(cadata[i + len(begin) : j])
        i = j + len(end)


def wrap(sock, host, cadata):
    """Wrap a connected socket in TLS verified against cadata (PEM bundle) and host."""
    if IS_MICROPYTHON:
        try:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            load = _kw_loader(ctx)
        except ImportError:
            # MICROPYPATH without .frozen hides ssl.py; its C core `tls` is built in.
            import tls as ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            load = ctx.load_verify_locations
        ctx.verify_mode = ssl.CERT_REQUIRED
        n = 0
        for der in _der_certs(cadata):
            load(der)
            n += 1
        if not n:
            raise errors.NetworkError("CA bundle holds no certificate")
        load = None
    else:
        import ssl

        if isinstance(cadata, bytes):
            cadata = cadata.decode()
        ctx = ssl.create_default_context(cadata=cadata)  # CERT_REQUIRED + check_hostname
    # server_hostname drives both SNI and the hostname check on both runtimes.
    return ctx.wrap_socket(sock, server_hostname=host)


def _kw_loader(ctx):
    # ssl.py's load_verify_locations(cafile=None, cadata=None): cadata by keyword.
    def load(der):
        ctx.load_verify_locations(cadata=der)

    return load
