//! The address a request comes from, seen through trusted proxies. Used by the webhook
//! allowlist (with `webhooks.trusted_proxies`) and by the console's sign-in counters and audit
//! log (with `server.trusted_proxies`); it sits below both so neither imports the other.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;

/// The caller's address: the peer, or — when the peer is a trusted proxy — the nearest address
/// in `X-Forwarded-For` (every header line, right to left) that is not itself a trusted proxy.
/// A hop that does not parse as an address (with or without a port) ends the walk with `None`:
/// whoever wrote it is not trusted, so nothing to its left can be believed either.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    from_parts(req.peer_addr()?.ip(), req.headers(), trusted)
}

fn from_parts(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        let Ok(line) = line.to_str() else {
            return None;
        };
        hops.extend(line.split(',').map(str::trim).filter(|hop| !hop.is_empty()));
    }
    // The farthest trusted address so far: the peer, then each trusted hop to its left.
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let ip = parse_hop(hop)?;
        if !trusted.contains(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5555`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:5555`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .or_else(|| {
            hop.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<IpAddr>()
                .ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    const PROXY: &str = "10.0.0.1";
    const ALLOWED: &str = "3.130.254.46";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn seen(peer: &str, lines: &[&str]) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        from_parts(ip(peer), &headers, &[ip(PROXY)])
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(seen("6.6.6.6", &[ALLOWED]), Some(ip("6.6.6.6")));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        assert_eq!(seen(PROXY, &[ALLOWED]), Some(ip(ALLOWED)));
        assert_eq!(seen(PROXY, &["1.1.1.1, 6.6.6.6"]), Some(ip("6.6.6.6")));
        assert_eq!(
            seen(PROXY, &[&format!("6.6.6.6, {PROXY}")]),
            Some(ip("6.6.6.6"))
        );
        assert_eq!(seen(PROXY, &[]), Some(ip(PROXY)));
    }

    #[test]
    fn every_header_line_counts_and_the_last_one_is_nearest() {
        // A client that sends its own `X-Forwarded-For: <allowed>` gets a second line appended
        // by the proxy: that line, not the forged first one, names the client.
        assert_eq!(seen(PROXY, &[ALLOWED, "6.6.6.6"]), Some(ip("6.6.6.6")));
    }

    #[test]
    fn ports_are_stripped_from_hops() {
        assert_eq!(
            seen(PROXY, &[&format!("{ALLOWED}, 6.6.6.6:5555")]),
            Some(ip("6.6.6.6"))
        );
        assert_eq!(
            seen(PROXY, &["[2001:db8::6]:5555"]),
            Some(ip("2001:db8::6"))
        );
        assert_eq!(seen(PROXY, &["[2001:db8::6]"]), Some(ip("2001:db8::6")));
        assert_eq!(seen(PROXY, &["2001:db8::6"]), Some(ip("2001:db8::6")));
    }

    #[test]
    fn an_unparseable_hop_is_untrusted_and_hides_what_is_left_of_it() {
        assert_eq!(seen(PROXY, &[&format!("{ALLOWED}, unknown")]), None);
        assert_eq!(seen(PROXY, &[&format!("{ALLOWED}, _hidden")]), None);
    }
}
