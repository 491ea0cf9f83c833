//! The key broker: KBS-shaped protocol, server and client.
