//! The real binary as operations run it: separate processes, signals, log lines on stderr.
//! Two replicas share the Redis that `scripts/test.sh` starts (TEST_REDIS_URL).

mod bff;
mod events;
mod link_checks;
mod logs;
mod long_polls;
#[path = "../support/own_redis.rs"]
mod own_redis;
mod receiver;
mod redis_tls;
mod replicas;
mod shutdown;
mod sign_in_flood;
#[path = "../support/stored.rs"]
mod stored;
mod test_servers;
