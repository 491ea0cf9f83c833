//! Attester backends: collect evidence on a real machine (configfs-tsm, /dev/sev-guest, /dev/tdx_guest) and the dev TEE.
