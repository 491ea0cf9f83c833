//! The normal form the canonical digest is computed over: lists whose order has no
//! meaning sorted and deduplicated, hex lower-cased, paths cleaned, defaults explicit.

use std::path::Path;

use crate::load::lexical_normalize;
use crate::Policy;

fn sort_dedup<T: Ord>(v: &mut Vec<T>) {
    v.sort();
    v.dedup();
}

fn clean_paths(v: &mut Vec<String>) {
    for p in v.iter_mut() {
        *p = lexical_normalize(Path::new(p.as_str()));
    }
    sort_dedup(v);
}

fn lower(v: &mut Vec<String>) {
    for s in v.iter_mut() {
        *s = s.to_ascii_lowercase();
    }
    sort_dedup(v);
}

pub(crate) fn normalize(p: &mut Policy) {
    p.extends = None;

    let t = &mut p.trust;
    lower(&mut t.media_types);
    sort_dedup(&mut t.signers.sigstore);
    sort_dedup(&mut t.signers.keys);
    sort_dedup(&mut t.signers.certificates);

    let s = &mut p.sbom;
    sort_dedup(&mut s.formats);
    for list in [&mut s.licenses.allow, &mut s.licenses.deny] {
        for e in list.iter_mut() {
            if let Ok(t) = crate::sbom::parse_entry(e) {
                *e = t.to_string();
            }
        }
        sort_dedup(list);
    }
    sort_dedup(&mut s.deny_purls);
    sort_dedup(&mut s.rules);

    let b = &mut p.sandbox;
    clean_paths(&mut b.fs.read);
    clean_paths(&mut b.fs.write);
    clean_paths(&mut b.fs.exec);
    sort_dedup(&mut b.net.tcp_bind);
    sort_dedup(&mut b.net.tcp_connect);
    for r in b.syscalls.allow.iter_mut() {
        sort_dedup(&mut r.args);
    }
    for r in b.syscalls.deny.iter_mut() {
        sort_dedup(&mut r.args);
        r.errno.get_or_insert_with(|| "EPERM".to_string());
    }
    sort_dedup(&mut b.syscalls.allow);
    sort_dedup(&mut b.syscalls.deny);
    sort_dedup(&mut b.capabilities.keep);
    for d in b.devices.iter_mut() {
        d.access = "rwm".chars().filter(|c| d.access.contains(*c)).collect();
    }
    sort_dedup(&mut b.devices);

    let a = &mut p.attestation;
    sort_dedup(&mut a.tee);
    lower(&mut a.snp.measurements);
    if let Some(h) = a.snp.host_data.as_mut() {
        *h = h.to_ascii_lowercase();
    }
    for l in [
        &mut a.tdx.mrtd,
        &mut a.tdx.rtmr0,
        &mut a.tdx.rtmr1,
        &mut a.tdx.rtmr2,
        &mut a.tdx.rtmr3,
    ] {
        lower(l);
    }
    if let Some(m) = a.tdx.mr_config_id.as_mut() {
        *m = m.to_ascii_lowercase();
    }
    sort_dedup(&mut a.tdx.allowed_tcb_status);
    sort_dedup(&mut a.tdx.allowed_advisories);

    for e in p.keys.entries.iter_mut() {
        sort_dedup(&mut e.require_tee);
    }
    p.keys.entries.sort_by(|x, y| x.id.cmp(&y.id));

    for r in p.rules.iter_mut() {
        sort_dedup(&mut r.applies_to);
    }
    p.rules.sort_by(|x, y| x.name.cmp(&y.name));
}
