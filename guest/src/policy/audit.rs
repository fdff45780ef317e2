//! Expiry bookkeeping and the store audit (Gafaelfawr's `audit(fix)`, seed 002): what is
//! inconsistent in a store's records, and the repair for each, with the history event it
//! records. A repair is a record like any other: it must be one that may exist (see
//! [`super::authority::admissible`]), so `audit --fix` never leaves a child beyond its
//! parent, a bound token with scopes a binding refuses, or a scope the repairing actor
//! could not grant.
#[allow(unused_imports)]
use crate::prelude::*;

use crate::policy::Authorizer;

use super::authority::{self, Expiry, admissible};
use super::model::{
    AuditEntry, AuditFinding, AuditFix, AuditKind, ChangeContext, HistoryAction, HistoryEvent,
    Options, TokenRecord,
};
use super::records::{event, find, live, narrowed};
use super::scope::{BOUND_ALLOWED, ScopeSet, migrate_legacy};

impl Authorizer {
    /// `expire` events for live-looking records past their expiry, not yet recorded.
    pub fn plan_expire(&self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<HistoryEvent> {
        entries
            .iter()
            .filter(|e| {
                !e.expiry_recorded
                    && e.record.revoked.is_none()
                    && e.record.expires.is_some_and(|x| x <= ctx.now)
            })
            .map(|e| event(&e.record, HistoryAction::Expire, ctx))
            .collect()
    }
}

/// The history event a change records: `revoke` when it revokes; otherwise `edit`, with
/// the values it changed.
pub(crate) fn fix_event(old: &TokenRecord, new: &TokenRecord, ctx: &ChangeContext) -> HistoryEvent {
    let action = if new.revoked.is_some() && old.revoked.is_none() {
        HistoryAction::Revoke
    } else {
        HistoryAction::Edit
    };
    let mut e = event(new, action, ctx);
    e.old_name = (old.name != new.name).then(|| old.name.clone());
    e.old_scopes = (old.scopes != new.scopes).then(|| old.scopes.clone());
    e.old_expires = (old.expires != new.expires).then_some(old.expires);
    e
}

/// A legacy record's scopes migrated (reference §1.5), then brought within the binding
/// rules and the parent: the repair of an unknown scope, if one may exist.
fn migrated(
    r: &TokenRecord,
    parent: Option<&TokenRecord>,
    options: &Options,
    ctx: &ChangeContext,
) -> Option<TokenRecord> {
    let mut f = r.clone();
    f.scopes = ScopeSet::parse(&migrate_legacy(&r.scopes))
        .ok()?
        .normalized();
    if !f.repositories.is_empty() || !f.owners.is_empty() {
        f.scopes.retain(|s| BOUND_ALLOWED.contains(&s.as_str()));
    }
    if let Some(p) = parent {
        f = narrowed(&f, p, ctx.now);
    }
    // A migration gives a record that granted nothing (its unknown scope refused every
    // use) its permissions back: the repairing actor must be able to grant them.
    let grant = f.revoked.is_none() && live(&f, ctx.now);
    let parent = parent.filter(|p| live(p, ctx.now));
    let ok = !grant || admissible(&f, &ctx.actor, parent, options, ctx.now, Expiry::Kept).is_ok();
    ok.then_some(f)
}

/// One record's findings, each repair building on the one before (the host applies them
/// in order), so the last leaves the record consistent.
struct Repairs<'a> {
    ctx: &'a ChangeContext,
    may_repair: bool,
    current: TokenRecord,
    out: Vec<AuditFinding>,
}

impl Repairs<'_> {
    fn finding(&mut self, kind: AuditKind, message: String, fix: Option<TokenRecord>) {
        let fix = fix.filter(|_| self.may_repair);
        let event = fix.as_ref().map(|f| fix_event(&self.current, f, self.ctx));
        self.out.push(AuditFinding {
            token_id: self.current.id.clone(),
            kind,
            message,
            fix: fix.clone().map(AuditFix::Update),
            event,
        });
        if let Some(f) = fix {
            self.current = f;
        }
    }

    fn expiry(&mut self, message: String) {
        let (fix, event) = if self.may_repair {
            (
                Some(AuditFix::RecordExpiry(self.current.id.clone())),
                Some(event(&self.current, HistoryAction::Expire, self.ctx)),
            )
        } else {
            (None, None)
        };
        self.out.push(AuditFinding {
            token_id: self.current.id.clone(),
            kind: AuditKind::ExpiredNotRecorded,
            message,
            fix,
            event,
        });
    }

    fn revoked(&self) -> TokenRecord {
        let mut f = self.current.clone();
        f.revoked = Some(self.ctx.now);
        f
    }
}

impl Authorizer {
    /// Check records for inconsistencies; each repair comes with the event it records. Only
    /// the operator's maintenance and active site administrators get repairs (see
    /// [`authority::may_repair`]); anyone else sees the findings alone.
    pub fn audit(&self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding> {
        let options = &self.options;
        let records: Vec<TokenRecord> = entries.iter().map(|e| e.record.clone()).collect();
        let may_repair = authority::may_repair(&ctx.actor);
        let mut out = Vec::new();
        for e in entries {
            let mut rep = Repairs {
                ctx,
                may_repair,
                current: e.record.clone(),
                out: Vec::new(),
            };
            check_record(&mut rep, e, &records, options);
            out.append(&mut rep.out);
        }
        out
    }
}

fn check_record(rep: &mut Repairs<'_>, e: &AuditEntry, records: &[TokenRecord], options: &Options) {
    let now = rep.ctx.now;
    let r = &e.record;
    let parent = r.parent.as_deref().and_then(|pid| find(records, pid));
    if let Err(unknown) = ScopeSet::parse(&r.scopes) {
        // A legacy record may migrate to one that may exist; otherwise the operator
        // decides.
        let fix = migrated(r, parent, options, rep.ctx);
        rep.finding(
            AuditKind::UnknownScope,
            format!("unknown scope `{unknown}`"),
            fix,
        );
    }
    if r.successor.is_some() && r.revoked.is_none() {
        let fix = rep.revoked();
        rep.finding(
            AuditKind::RotatedNotRevoked,
            "rotated but still live".into(),
            Some(fix),
        );
    }
    if !e.expiry_recorded && r.revoked.is_none() && r.expires.is_some_and(|x| x <= now) {
        rep.expiry("past its expiry; the expiry was never recorded".into());
    }
    let Some(pid) = r.parent.as_deref() else {
        return;
    };
    let Some(parent) = parent else {
        let fix = r.revoked.is_none().then(|| rep.revoked());
        rep.finding(
            AuditKind::Orphan,
            format!("parent `{pid}` is not in the store"),
            fix,
        );
        return;
    };
    if parent.revoked.is_some() && rep.current.revoked.is_none() {
        let fix = rep.revoked();
        rep.finding(
            AuditKind::ChildOfRevokedParent,
            format!("parent `{pid}` is revoked"),
            Some(fix),
        );
    }
    if let Some(pe) = parent.expires
        && rep.current.expires.is_none_or(|ce| ce > pe)
    {
        let mut f = rep.current.clone();
        f.expires = Some(pe);
        rep.finding(
            AuditKind::ChildOutlivesParent,
            format!("expires after parent `{pid}`"),
            Some(f),
        );
    }
    if let (Ok(cs), Ok(ps)) = (
        ScopeSet::parse(&rep.current.scopes),
        ScopeSet::parse(&parent.scopes),
    ) && let Some(x) = cs.excess_over(&ps)
    {
        // Repair: keep only what both hold; nothing left with a permission is for the
        // operator to decide.
        let kept = cs.intersect(&ps);
        let fix = kept.has_permission().then(|| {
            let mut f = rep.current.clone();
            f.scopes = kept.normalized();
            f
        });
        rep.finding(
            AuditKind::ChildExceedsParent,
            format!("holds `{x}`, which parent `{pid}` lacks"),
            fix,
        );
    }
}
