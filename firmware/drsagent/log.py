# Log lines and structured events. Every line passes through scrub() so a
# careless message cannot leak an LwA token or a client secret.
import sys

_log_sink = None
_event_sink = None

# Known secret values (client secret, tokens), keyed so a new access token
# replaces the old one instead of growing the list.
_secrets = {}

# Token-like prefixes: everything after them up to a separator is masked.
_PREFIXES = ("Atza|", "Atzr|", "Atza%7C", "Atzr%7C", "Bearer ", "bearer ", "amzn1.oa2-cs.")
# Keys whose value is masked in "key: value", "key=value" and '"key": "value"'.
_KEYS = ("secret", "token", "password", "passwd")
_MASK = "***"


def _tokch(c):
    # Characters a token/secret can be made of (base64, url-encoding, LwA's "|").
    return c.isalpha() or c.isdigit() or c in "-_.|+/=%~*"


def _run_end(text, i):
    n = len(text)
    while i < n and _tokch(text[i]):
        i += 1
    return i


def _mask_prefixes(text):
    for p in _PREFIXES:
        start = 0
        while True:
            i = text.find(p, start)
            if i < 0:
                break
            j = i + len(p)
            k = _run_end(text, j)
            if k > j and text[j:k] != _MASK:
                text = text[:j] + _MASK + text[k:]
            start = j + len(_MASK)
    return text


def _mask_keys(text):
    low = text.lower()
    for key in _KEYS:
        start = 0
        while True:
            i = low.find(key, start)
            if i < 0:
                break
            j = i + len(key)
            n = len(text)
            # Skip the rest of the key name ("secret_key", "tokens"), quotes and spaces.
            while j < n and (text[j].isalpha() or text[j] == "_"):
                j += 1
            while j < n and text[j] in "\"' ":
                j += 1
            if j >= n or text[j] not in ":=":
                start = j
                continue
            j += 1
            while j < n and text[j] == " ":
                j += 1
            if j < n and text[j] in "\"'":
                # Quoted value: mask up to the closing quote (passwords may hold spaces).
                k = text.find(text[j], j + 1)
                j += 1
                if k < 0:
                    k = n
            else:
                k = _run_end(text, j)
            if k > j and text[j:k] != _MASK:
                text = text[:j] + _MASK + text[k:]
                low = text.lower()
                k = j + len(_MASK)
            start = k
    return text


def scrub(text):
    """Return text with anything token-like replaced by ***."""
    if not isinstance(text, str):
        text = str(text)
    for v in _secrets.values():
        if v and v in text:
            text = text.replace(v, _MASK)
    return _mask_keys(_mask_prefixes(text))


def secret(name, value):
    """Remember a secret value (e.g. "client_secret") so scrub() masks it verbatim."""
    if value and isinstance(value, str) and len(value) >= 6:
        _secrets[name] = value
    else:
        _secrets.pop(name, None)


def _stderr(line):
    sys.stderr.write(line)
    sys.stderr.write("\n")


def set_log_sink(fn):
    """fn(line) receives each scrubbed line, e.g. "W drs: throttled"; None = stderr."""
    global _log_sink
    _log_sink = fn


def set_event_sink(fn):
    """fn(dict) receives each event {"ev": kind, ...}; None = write them to the log."""
    global _event_sink
    _event_sink = fn


def _write(prefix, msg):
    line = prefix + scrub(msg)
    (_log_sink or _stderr)(line)


def info(msg):
    _write("I ", msg)


def warn(msg):
    _write("W ", msg)


def error(msg):
    _write("E ", msg)


def emit(ev_kind, **fields):
    """Structured event {"ev": ev_kind, **fields}; string fields are scrubbed.

    The first parameter is not called `kind` so that events may carry a `kind`
    field themselves (net_error's exception kind).
    """
    ev = {"ev": ev_kind}
    for k in fields:
        v = fields[k]
        if isinstance(v, str):
            v = scrub(v)
        ev[k] = v
    if _event_sink is not None:
        _event_sink(ev)
    else:
        import json

        _write("I event ", json.dumps(ev))
