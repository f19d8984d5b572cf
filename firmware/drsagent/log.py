# Log lines and structured events. Every line passes through scrub() so a
# careless message cannot leak an LwA token or a client secret.
import sys

_log_sink = None
_event_sink = None

# Known secret values (client secret, tokens), keyed so a new access token
# replaces the old one instead of growing the list.
_secrets = {}

# Token-like prefixes (everything after them up to a separator is masked), then
# keys whose value is masked in "key: value", "key=value" and '"key": "value"'.
_PREFIXES = ("Atza|", "Atzr|", "Atza%7C", "Atzr%7C", "Bearer ", "bearer ", "amzn1.oa2-cs.")
_KEYS = ("secret", "token", "password", "passwd")


def _run_end(text, i):
    # End of a run of characters a token/secret can be made of (base64, %xx, LwA's "|").
    n = len(text)
    while i < n and (text[i].isalpha() or text[i].isdigit() or text[i] in "-_.|+/=%~*"):
        i += 1
    return i


def scrub(text):
    """Return text with anything token-like replaced by ***."""
    if not isinstance(text, str):
        text = str(text)
    for v in _secrets.values():
        if v in text:
            text = text.replace(v, "***")
    for p in _PREFIXES:
        i = text.find(p)
        while i >= 0:
            j = i + len(p)
            k = _run_end(text, j)
            if k > j and text[j:k] != "***":
                text = text[:j] + "***" + text[k:]
            i = text.find(p, j + 3)
    low = text.lower()
    for key in _KEYS:
        i = low.find(key)
        while i >= 0:
            j = i + len(key)
            n = len(text)
            # Skip the rest of the key name ("secret_key", "tokens"), quotes and spaces.
            while j < n and (text[j].isalpha() or text[j] == "_"):
                j += 1
            # A dotted key path ("lwa.refresh_token: missing") only names the key:
            # config errors never carry the value, and real tokens are caught above.
            path = i > 0 and text[i - 1] in "._" and low.rfind(".", 0, i) > low.rfind(" ", 0, i)
            while j < n and text[j] in "\"' ":
                j += 1
            if not path and j < n and text[j] in ":=":
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
                if k > j and text[j:k] != "***":
                    text = text[:j] + "***" + text[k:]
                    low = text.lower()
                    j += 3
            i = low.find(key, j)
    return text


def secret(name, value):
    """Remember a secret value (e.g. "client_secret") so scrub() masks it verbatim."""
    if value and isinstance(value, str) and len(value) >= 6:
        _secrets[name] = value
    else:
        _secrets.pop(name, None)


def set_log_sink(fn):
    """fn(line) receives each scrubbed line, e.g. "W drs: throttled"; None = stderr."""
    global _log_sink
    _log_sink = fn


def set_event_sink(fn):
    """fn(dict) receives each event {"ev": kind, ...}; None = write them to the log."""
    global _event_sink
    _event_sink = fn


def _write(line):
    line = scrub(line)
    if _log_sink:
        _log_sink(line)
    else:
        sys.stderr.write(line + "\n")


def info(msg):
    _write("I " + str(msg))


def warn(msg):
    _write("W " + str(msg))


def error(msg):
    _write("E " + str(msg))


def emit(ev, **fields):
    """Structured event {"ev": ev, **fields}; string fields are scrubbed. The one
    event path of the agent; fields may include `kind` (net_error's error kind)."""
    fields["ev"] = ev
    for k in fields:
        if isinstance(fields[k], str):
            fields[k] = scrub(fields[k])
    if _event_sink:
        _event_sink(fields)
    else:
        import json

        _write("I event " + json.dumps(fields))
