//! Shrinking: a failing or changed case made as small as it can be while it still fails
//! (or still shows its change) — fewer users, repositories, roles, keys and tokens, a
//! shorter request — so that a report's example is the least a reader has to look at.

use super::generator::Case;
use crate::request::RequestDef;

/// Shrink `case` while `still` holds: each step takes the first smaller case that keeps it
/// (at most `BUDGET` tries), until none does.
pub fn shrink(mut case: Case, still: &mut dyn FnMut(&Case) -> bool) -> Case {
    const BUDGET: usize = 400;
    let mut tries = 0;
    'smaller: loop {
        for c in case.shrinks() {
            tries += 1;
            if tries > BUDGET {
                break 'smaller;
            }
            if still(&c) {
                case = c;
                continue 'smaller;
            }
        }
        break;
    }
    case
}

impl Case {
    /// How big the case is: the world's entities and the request's parts (the smallest
    /// failing case is the one a report shows).
    pub fn size(&self) -> usize {
        let (w, r) = (&self.world, &self.request);
        let repos: usize = w
            .repositories
            .iter()
            .map(|x| {
                1 + x.collaborators.len()
                    + x.protected_refs.len()
                    + usize::from(x.registrant.is_some())
            })
            .sum();
        let users: usize = w
            .users
            .iter()
            .map(|u| 1 + u.members.len() + u.ip_allow.len())
            .sum();
        let tokens: usize = w.tokens.iter().map(|t| 1 + t.ip_allow.len()).sum();
        let flags = [
            r.admin_only,
            r.operation.is_some(),
            r.sudo.is_some(),
            r.required_role.is_some(),
            r.writes_content,
            r.requires_auth,
            r.namespace.is_some(),
            r.client_address.is_some(),
        ];
        users
            + repos
            + tokens
            + w.ssh_keys.len()
            + r.refs.len()
            + r.ref_names.len()
            + r.repositories.len()
            + r.categories.len()
            + flags.iter().filter(|f| **f).count()
    }

    /// This case changed by `f`.
    fn with(&self, f: impl FnOnce(&mut Case)) -> Case {
        let mut c = self.clone();
        f(&mut c);
        c
    }

    /// Every case one step smaller: one entity of the world or one part of the request
    /// fewer.
    pub fn shrinks(&self) -> Vec<Case> {
        let w = &self.world;
        let mut out = Vec::new();
        for i in 0..w.users.len() {
            out.push(self.with(|c| drop(c.world.users.remove(i))));
        }
        for i in 0..w.repositories.len() {
            out.push(self.with(|c| drop(c.world.repositories.remove(i))));
        }
        for i in 0..w.ssh_keys.len() {
            out.push(self.with(|c| drop(c.world.ssh_keys.remove(i))));
        }
        for i in 0..w.tokens.len() {
            out.push(self.with(|c| drop(c.world.tokens.remove(i))));
        }
        for (i, u) in w.users.iter().enumerate() {
            for m in u.members.keys() {
                out.push(self.with(|c| {
                    c.world.users.get_mut(i).map(|u| u.members.remove(m));
                }));
            }
        }
        // IP allow lists emptied, one at a time: (a user's, index) or (a token's, index).
        let users = w.users.iter().map(|u| (true, u.ip_allow.is_empty()));
        let tokens = w.tokens.iter().map(|t| (false, t.ip_allow.is_empty()));
        for (n, (user, empty)) in users.chain(tokens).enumerate() {
            if empty {
                continue;
            }
            let i = if user { n } else { n - w.users.len() };
            out.push(self.with(|c| {
                let list = if user {
                    c.world.users.get_mut(i).map(|u| &mut u.ip_allow)
                } else {
                    c.world.tokens.get_mut(i).map(|t| &mut t.ip_allow)
                };
                if let Some(list) = list {
                    list.clear();
                }
            }));
        }
        for (i, r) in w.repositories.iter().enumerate() {
            for m in r.collaborators.keys() {
                out.push(self.with(|c| {
                    c.world
                        .repositories
                        .get_mut(i)
                        .map(|r| r.collaborators.remove(m));
                }));
            }
            if !r.protected_refs.is_empty() || r.registrant.is_some() {
                out.push(self.with(|c| {
                    if let Some(r) = c.world.repositories.get_mut(i) {
                        r.protected_refs.clear();
                        r.registrant = None;
                    }
                }));
            }
        }
        out.extend(self.request_shrinks());
        out
    }

    /// The request one part smaller.
    fn request_shrinks(&self) -> Vec<Case> {
        let r = &self.request;
        let mut out = Vec::new();
        for i in 0..r.refs.len() {
            out.push(self.with(|c| drop(c.request.refs.remove(i))));
        }
        for i in 0..r.ref_names.len().saturating_sub(1) {
            out.push(self.with(|c| drop(c.request.ref_names.remove(i))));
        }
        for i in 0..r.repositories.len().saturating_sub(1) {
            out.push(self.with(|c| drop(c.request.repositories.remove(i))));
        }
        let fewer: [fn(&mut RequestDef); 7] = [
            |r| r.client_address = None,
            |r| {
                r.admin_only = false;
                r.operation = None;
                r.sudo = None;
            },
            |r| r.required_role = None,
            |r| r.writes_content = false,
            |r| r.requires_auth = false,
            |r| r.namespace = None,
            |r| r.categories.clear(),
        ];
        for f in fewer {
            out.push(self.with(|c| f(&mut c.request)));
        }
        out.retain(|c| c.size() < self.size());
        out
    }
}
