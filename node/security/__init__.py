"""Who may do what: users' passwords and roles, login tokens and throttling, the
tokens that authorise joining a system and confirming a detach, and the signatures
that authenticate one node's calls to another.

Everything secret-based derives its own key from the system secret (`derive_key`,
and for bearer tokens `derive_token_key`, each with its purpose label), so a leaked
key of one use tells nothing about the others. The package imports nothing else of
node: every other package may use it.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.security._confirm_token import (
    CONFIRM_VALID_S,
    CONFIRM_WAIT_S,
    ConfirmError,
    check_confirm_token,
    mint_confirm_token,
)
from node.security._crypto import (
    PURPOSE_GOSSIP,
    PURPOSE_INTERNODE,
    Base64Error,
    b64url_decode,
    b64url_encode,
    derive_key,
    mac,
    same_mac,
)
from node.security._internode import (
    InternodeAuth,
    InternodeAuthError,
    InternodeVerifier,
    request_target,
    require_internode,
    sign_request,
)
from node.security._join_token import (
    JoinClaims,
    JoinTokenError,
    mint_join_token,
    token_system_id,
    verify_join_token,
)
from node.security._login_throttle import LoginThrottle
from node.security._passwords import hash_password, verify_password
from node.security._roles import Role, role_allows
from node.security._session_token import AuthError, TokenClaims, TokenSigner
from node.security._system_keys import SystemKeys

__all__ = [
    "CONFIRM_VALID_S",
    "CONFIRM_WAIT_S",
    "PURPOSE_GOSSIP",
    "PURPOSE_INTERNODE",
    "AuthError",
    "Base64Error",
    "ConfirmError",
    "InternodeAuth",
    "InternodeAuthError",
    "InternodeVerifier",
    "JoinClaims",
    "JoinTokenError",
    "LoginThrottle",
    "Role",
    "SystemKeys",
    "TokenClaims",
    "TokenSigner",
    "b64url_decode",
    "b64url_encode",
    "check_confirm_token",
    "derive_key",
    "hash_password",
    "mac",
    "mint_confirm_token",
    "mint_join_token",
    "request_target",
    "require_internode",
    "role_allows",
    "same_mac",
    "sign_request",
    "token_system_id",
    "verify_join_token",
    "verify_password",
]
