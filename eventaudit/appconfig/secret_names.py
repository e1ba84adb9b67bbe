"""Whether a key's name looks like it holds a secret: the default of which values are only hashed.

A name is read as words, split at separators (`:`, `/`, `.`, `_`, `-`, spaces ...) and at camelCase and
digit boundaries: `Storage:AccountKey` is storage, account, key; `SASToken` is sas, token;
`DB_PASSWORD` is db, password. It looks secret when one of its words is a secret word (password,
secret, token, key, credential and their variants), or two words say "connection string". Words are
matched whole, so `Keyboard:Layout` and `monkey` are not secret, and neither is `KeyVault` (the
product's name; Key Vault references are kept as they are in any case).

A word written in one case leaves no boundary to split at (`apikey`, `dbpassword`): such a word is
secret when it ends with one of the long secret words (password, secret, token, ...) or is a known
compound of "key" (apikey, accountkey, ...); `monkey` ends with "key" but is not one of them.
"""

from __future__ import annotations

import re

# Whole words that name a secret.
SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "pwd", "secret", "secrets", "token", "tokens", "key", "keys",
    "credential", "credentials", "connectionstring", "connectionstrings",
})
# A word in one case that ends with one of these holds a secret word (dbpassword, sastoken). Long
# words only: short ones ("key", "pwd") end too many harmless words (monkey, turkey).
SECRET_ENDINGS = ("password", "passwords", "passwd", "secret", "secrets", "token", "tokens", "credential",
                  "credentials", "connectionstring", "connectionstrings")
# Compounds of "key" written in one case that name a secret.
KEY_COMPOUNDS = frozenset({
    "apikey", "accountkey", "accesskey", "privatekey", "sharedkey", "masterkey", "primarykey",
    "secondarykey", "subscriptionkey", "signingkey", "encryptionkey", "secretkey", "storagekey",
})
NOT_SECRET_AFTER_KEY = frozenset({"vault"})  # "Key Vault" names the service, not a key

# Upper-case runs (an acronym before a capitalised word: "SASToken" -> SAS, Token), capitalised or
# lower-case words, digits; everything else separates.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """The words of a key's name, lower-cased."""
    return [word.lower() for word in _WORD.findall(name)]


def looks_secret(name: str) -> bool:
    parts = words(name)
    for index, word in enumerate(parts):
        following = parts[index + 1] if index + 1 < len(parts) else ""
        if word in ("key", "keys") and following in NOT_SECRET_AFTER_KEY:
            continue
        if word in SECRET_WORDS or word in KEY_COMPOUNDS or word.endswith(SECRET_ENDINGS):
            return True
        if word == "connection" and following in ("string", "strings"):
            return True
    return False
