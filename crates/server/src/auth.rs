//! Tokens and namespaces. A server started with `--tokens FILE` wants
//! `authorization: Bearer TOKEN` on every call: an admin token sees every namespace, a user
//! token one namespace, and a trial's own token (handed to it in `FERROTUNE_TOKEN`) may only
//! report for that trial. Without `--tokens` (loopback only, or `--insecure`) every caller
//! is an admin.

use crate::ServerError;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tonic::{Request, Status};

/// The namespace experiments go to when nobody names one.
pub const DEFAULT_NAMESPACE: &str = "ferrotune";

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Admin,
    /// A user token for this namespace.
    Namespace(String),
    /// A token that is not in the tokens file: perhaps a running trial's own (the report
    /// service checks it against the trial).
    Trial(String),
}

impl Identity {
    /// Whether the caller may see and change experiments in `namespace`.
    pub fn sees(&self, namespace: &str) -> bool {
        match self {
            Identity::Admin => true,
            Identity::Namespace(n) => n == namespace,
            Identity::Trial(_) => false,
        }
    }

    /// The namespace a request means: the one it names (which the caller must see), else
    /// the caller's own. A namespace the caller may not see is NOT_FOUND, as if empty.
    pub fn namespace(&self, requested: &str) -> Result<String, ServerError> {
        match (self, requested) {
            (Identity::Trial(_), _) => Err(ServerError::Unauthenticated(
                "a trial's token may only report metrics".into(),
            )),
            (Identity::Admin, "") => Ok(DEFAULT_NAMESPACE.to_string()),
            (Identity::Namespace(n), "") => Ok(n.clone()),
            (_, ns) if self.sees(ns) => Ok(ns.to_string()),
            (_, ns) => Err(ServerError::NotFound(format!("no namespace {ns:?}"))),
        }
    }

    /// The identity a request carries (set by [`Tokens::interceptor`]); admin when none.
    pub fn of<T>(req: &Request<T>) -> Identity {
        req.extensions()
            .get::<Identity>()
            .cloned()
            .unwrap_or(Identity::Admin)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    namespace: Option<String>,
    /// Who holds it, for logs.
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

/// The tokens a server accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    grants: HashMap<String, Identity>,
}

/// Tokens shorter than this are refused: they can be guessed.
const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// Reads a tokens file:
    ///
    /// ```yaml
    /// tokens:
    ///   - {token: "…", admin: true, name: ops}
    ///   - {token: "…", namespace: team-a}
    /// ```
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Tokens, String> {
        let f: TokensFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut grants = HashMap::new();
        for (i, t) in f.tokens.into_iter().enumerate() {
            let at = format!("tokens[{i}]");
            if t.token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "{at}.token: must be at least {MIN_TOKEN_LEN} characters"
                ));
            }
            let id = match (t.admin, t.namespace) {
                (true, None) => Identity::Admin,
                (false, Some(ns)) if !ns.is_empty() => Identity::Namespace(ns),
                (true, Some(_)) => {
                    return Err(format!(
                        "{at}: give either admin: true or a namespace, not both"
                    ));
                }
                _ => return Err(format!("{at}: give admin: true or a namespace")),
            };
            if grants.insert(t.token, id).is_some() {
                return Err(format!("{at}.token: the same token appears twice"));
            }
        }
        if grants.is_empty() {
            return Err("tokens: the list is empty".into());
        }
        Ok(Tokens { grants })
    }

    /// A tonic interceptor that puts the caller's [`Identity`] into the request; a token
    /// that is not in the file is taken as a trial's own ([`Identity::Trial`]), for the
    /// services that check it.
    pub fn interceptor(
        tokens: Option<Arc<Tokens>>,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
        Self::intercept(tokens, true)
    }

    /// An interceptor for services that do not look at the caller's identity (Katib's):
    /// only the file's tokens pass, since a trial's token has no business there.
    pub fn users_interceptor(
        tokens: Option<Arc<Tokens>>,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
        Self::intercept(tokens, false)
    }

    fn intercept(
        tokens: Option<Arc<Tokens>>,
        trials: bool,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
        move |mut req: Request<()>| {
            let id = match &tokens {
                None => Identity::Admin,
                Some(t) => {
                    let Some(token) = bearer(req.metadata()) else {
                        return Err(Status::unauthenticated(
                            "this server wants a token: send `authorization: Bearer TOKEN`",
                        ));
                    };
                    match t.grants.get(token) {
                        Some(id) => id.clone(),
                        None if trials => Identity::Trial(token.to_string()),
                        None => {
                            return Err(Status::unauthenticated(
                                "this server does not know that token",
                            ));
                        }
                    }
                }
            };
            req.extensions_mut().insert(id);
            Ok(req)
        }
    }
}

/// The token of `authorization: Bearer TOKEN`, if the request has one.
pub fn bearer(metadata: &tonic::metadata::MetadataMap) -> Option<&str> {
    let header = metadata.get("authorization")?.to_str().ok()?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "tokens:\n  - {token: aaaaaaaaaaaaaaaaaaaa, admin: true}\n  - {token: bbbbbbbbbbbbbbbbbbbb, namespace: team-a}\n";

    fn call(tokens: &Tokens, header: Option<&str>) -> Result<Identity, Status> {
        let mut f = Tokens::interceptor(Some(Arc::new(tokens.clone())));
        let mut req = Request::new(());
        if let Some(h) = header {
            req.metadata_mut()
                .insert("authorization", h.parse().unwrap());
        }
        f(req).map(|r| Identity::of(&r))
    }

    #[test]
    fn tokens_map_to_identities() {
        let t = Tokens::parse(FILE).unwrap();
        assert_eq!(
            call(&t, Some("Bearer aaaaaaaaaaaaaaaaaaaa")).unwrap(),
            Identity::Admin
        );
        assert_eq!(
            call(&t, Some("Bearer bbbbbbbbbbbbbbbbbbbb")).unwrap(),
            Identity::Namespace("team-a".into())
        );
        assert_eq!(
            call(&t, Some("Bearer 0123")).unwrap(),
            Identity::Trial("0123".into())
        );
        let e = call(&t, None).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            call(&t, Some("Basic x")).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn the_users_interceptor_refuses_tokens_not_in_the_file() {
        let t = Arc::new(Tokens::parse(FILE).unwrap());
        let mut f = Tokens::users_interceptor(Some(t));
        let mut call = |h: &str| {
            let mut req = Request::new(());
            req.metadata_mut()
                .insert("authorization", h.parse().unwrap());
            f(req).map(|r| Identity::of(&r))
        };
        assert_eq!(
            call("Bearer bbbbbbbbbbbbbbbbbbbb").unwrap(),
            Identity::Namespace("team-a".into())
        );
        assert_eq!(
            call("Bearer 0123456789abcdef0123").unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let mut open = Tokens::users_interceptor(None);
        assert_eq!(
            Identity::of(&open(Request::new(())).unwrap()),
            Identity::Admin
        );
    }

    #[test]
    fn namespaces_are_visible_only_to_their_users() {
        let a = Identity::Namespace("team-a".into());
        assert_eq!(a.namespace("").unwrap(), "team-a");
        assert_eq!(a.namespace("team-a").unwrap(), "team-a");
        assert!(matches!(
            a.namespace("team-b"),
            Err(ServerError::NotFound(_))
        ));
        assert_eq!(Identity::Admin.namespace("").unwrap(), DEFAULT_NAMESPACE);
        assert_eq!(Identity::Admin.namespace("team-b").unwrap(), "team-b");
        assert!(matches!(
            Identity::Trial("x".into()).namespace(""),
            Err(ServerError::Unauthenticated(_))
        ));
    }

    #[test]
    fn bad_files_name_the_entry() {
        for (text, want) in [
            (
                "tokens:\n  - {token: short, admin: true}\n",
                "tokens[0].token",
            ),
            (
                "tokens:\n  - {token: aaaaaaaaaaaaaaaaaaaa}\n",
                "tokens[0]: give admin: true or a namespace",
            ),
            (
                "tokens:\n  - {token: aaaaaaaaaaaaaaaaaaaa, admin: true, namespace: x}\n",
                "not both",
            ),
            ("tokens: []\n", "empty"),
            (
                "tokens:\n  - {token: aaaaaaaaaaaaaaaaaaaa, admin: true, nmespace: x}\n",
                "nmespace",
            ),
        ] {
            let e = Tokens::parse(text).unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }
}
