//! Reaching a destination for a workspace: its `host:port` read from a request
//! ([`Target`]), the name resolved here (never by the workspace), each address
//! judged by the [`super::Policy`], and a connection to the first admitted one that
//! answers ([`dial`]), kept only if it did not reach this machine itself
//! ([`super::Policy::check_connected`]); its place in the proxy's descriptor gate
//! ([`admit`]); each way it can fail has its answer ([`Failure`]): 403 refused, 502
//! unresolvable or unreachable, 504 too slow, 503 out of descriptors or lookups.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use dcs_net::limits::{Full, TunnelSlot};
use http::uri::Authority;
use http::{header, HeaderValue, Response, StatusCode};
use hyper_util::client::legacy::connect::dns::Name;
use tokio::net::TcpStream;
use tower_service::Service;
use tracing::{debug, info};

use super::counts::Open;
use super::serve::text;
use super::{lookup, Ctx, Mode, Refused, DESCRIPTORS};
use crate::body::Body;

/// Where a request goes: a name or an IP literal (without brackets), and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// The target of `authority`, with `default_port` when it names none; the error
    /// says what is wrong (for a 400).
    pub fn of(authority: &Authority, default_port: Option<u16>) -> Result<Target, String> {
        // Credentials (`user:pass@`) are never part of the destination.
        let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
        let host = match host_port.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
            None => host_port.split(':').next().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err(format!("\"{authority}\" names no host"));
        }
        let port = match (authority.port_u16(), default_port) {
            (Some(port), _) | (None, Some(port)) => port,
            (None, None) => {
                return Err(format!(
                    "\"{authority}\" names no port: CONNECT needs host:port"
                ))
            }
        };
        if port == 0 {
            return Err(format!("\"{authority}\": port 0 is not a destination"));
        }
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The `Host` header of a request to this target: its port only when it is not
    /// the default.
    pub fn host_header(&self, default_port: u16) -> Option<HeaderValue> {
        let text = match (self.host.contains(':'), self.port == default_port) {
            (false, true) => self.host.clone(),
            (true, true) => format!("[{}]", self.host),
            _ => self.to_string(),
        };
        HeaderValue::from_str(&text).ok()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a destination was not reached.
#[derive(Debug)]
pub(super) enum Failure {
    /// The policy admits none of its addresses (each with why).
    Refused(Vec<Refused>),
    /// The name does not resolve.
    Unresolved(io::Error),
    /// The name did not resolve in time.
    ResolveTimeout(Duration),
    /// No admitted address accepted the connection (the last one tried, and why).
    Unreachable(SocketAddr, io::Error),
    /// No admitted address answered in time.
    Timeout(Duration),
    /// The proxy is out of descriptors (an overload, not the destination's fault).
    Exhausted,
    /// The proxy's descriptor gate is full (its connections of all kinds).
    Full(Full),
    /// Too many name lookups are under way ([`lookup::Busy`]).
    LookupsBusy,
}

impl Failure {
    /// The answer to the workspace (plain text saying what happened), and the log
    /// line: refusals at `info` (the destination, never a URL's path or query).
    pub fn answer(&self, ctx: &Ctx, target: &Target) -> Response<Body> {
        let (status, body) = match self {
            Failure::Refused(reasons) => {
                info!(
                    workspace = %ctx.workspace,
                    destination = %target,
                    reason = %reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                    "egress refused"
                );
                (StatusCode::FORBIDDEN, refused_body(target, reasons))
            }
            Failure::Unresolved(err) => (
                StatusCode::BAD_GATEWAY,
                format!("The egress proxy cannot resolve {}: {err}\n", target.host),
            ),
            Failure::ResolveTimeout(after) => (
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "The egress proxy cannot resolve {} within {} s\n",
                    target.host,
                    after.as_secs_f32()
                ),
            ),
            Failure::Unreachable(addr, err) => (
                StatusCode::BAD_GATEWAY,
                format!("The egress proxy cannot connect to {target} ({addr}): {err}\n"),
            ),
            Failure::Timeout(after) => (
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{target} did not accept the egress proxy's connection within {} s\n",
                    after.as_secs_f32()
                ),
            ),
            Failure::Exhausted => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The egress proxy is out of file descriptors (too many open \
                 connections); try again in a moment\n"
                    .to_owned(),
            ),
            Failure::Full(full) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The egress proxy is busy: {full}\n"),
            ),
            Failure::LookupsBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "The egress proxy cannot resolve {} now: {}\n",
                    target.host,
                    lookup::Busy
                ),
            ),
        };
        match self {
            Failure::Refused(_) => {}
            Failure::Full(_) | Failure::LookupsBusy => {
                info!(workspace = %ctx.workspace, destination = %target, %status, "egress busy");
            }
            _ => {
                debug!(workspace = %ctx.workspace, destination = %target, %status, "egress failed")
            }
        }
        let mut resp = text(status, body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(dcs_net::accept::RETRY_AFTER_SECS),
            );
        }
        resp
    }
}

/// Why `target` was refused: the reasons on the first line (it is the status
/// line's too), then what the workspace may reach.
fn refused_body(target: &Target, reasons: &[Refused]) -> String {
    if reasons.contains(&Refused::Off) {
        return format!("The egress proxy refused {target}: egress is off on this server.\n");
    }
    let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
    format!(
        "The egress proxy refused {target}: {}\n\
         Workspaces reach public internet addresses only (never this machine's own); \
         the server's operator can allow more with --sandbox-egress-allow (an address \
         or network, optionally with :port).\n",
        reasons.join("; ")
    )
}

/// A place in the proxy's descriptor gate for one tunnel or destination
/// connection, held for its lifetime, and the destination reached ([`dial`]).
/// Counted in `/metrics` ([`super::counts`]): open while the first value lives.
pub(super) async fn open(
    ctx: &Ctx,
    target: &Target,
) -> Result<((TunnelSlot, Open), TcpStream), Failure> {
    let opened = async {
        // Within half of the proxy's descriptor cap: the rest is the IDEs'.
        let gated = ctx
            .egress
            .gate
            .admit_lower(DESCRIPTORS)
            .map_err(Failure::Full)?;
        Ok((gated, dial(ctx, target).await?))
    };
    match opened.await {
        Ok((gated, stream)) => Ok(((gated, ctx.egress.counts.opened()), stream)),
        Err(failure) => {
            ctx.egress.counts.failed(&failure);
            Err(failure)
        }
    }
}

/// Resolves `target` (unless it is an IP literal), keeps the addresses the policy
/// admits, and connects to the first that answers, with `TCP_NODELAY`.
async fn dial(ctx: &Ctx, target: &Target) -> Result<TcpStream, Failure> {
    // Off: not even a name is looked up for the workspace (DNS carries data out too).
    if ctx.egress.policy.mode == Mode::Off {
        return Err(Failure::Refused(vec![Refused::Off]));
    }
    let addrs = resolve(ctx, target).await?;
    let (mut admitted, mut refused) = (Vec::new(), Vec::new());
    for addr in addrs {
        match ctx.egress.policy.check(addr) {
            Ok(()) if !admitted.contains(&addr) => admitted.push(addr),
            Ok(()) => {}
            Err(reason) if !refused.contains(&reason) => refused.push(reason),
            Err(_) => {}
        }
    }
    if admitted.is_empty() {
        return Err(Failure::Refused(refused));
    }
    let timeout = ctx.egress.connect_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let (mut last, mut own) = (None, false);
    for addr in admitted {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(Failure::Timeout(timeout)),
            // Kept only if it did not reach this machine (dropped, it is closed).
            Ok(Ok(stream)) => match stream
                .local_addr()
                .map(|local| ctx.egress.policy.check_connected(addr, local))
            {
                Ok(Ok(())) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        debug!(%err, "cannot set TCP_NODELAY");
                    }
                    debug!(workspace = %ctx.workspace, destination = %target, %addr, "egress connected");
                    return Ok(stream);
                }
                Ok(Err(reason)) => {
                    own = true;
                    if !refused.contains(&reason) {
                        refused.push(reason);
                    }
                }
                Err(err) => last = Some((addr, err)),
            },
            Ok(Err(err)) if dcs_net::limits::exhausted(&err) => return Err(Failure::Exhausted),
            Ok(Err(err)) => last = Some((addr, err)),
        }
    }
    match last {
        Some((addr, err)) if !own => Err(Failure::Unreachable(addr, err)),
        _ => Err(Failure::Refused(refused)),
    }
}

/// The addresses of `target`: itself when an IP literal, else the resolver's.
async fn resolve(ctx: &Ctx, target: &Target) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let name: Name = target
        .host
        .parse()
        .map_err(|_| Failure::Unresolved(io::Error::other("not a host name")))?;
    let mut resolver = ctx.egress.resolver.clone();
    let timeout = ctx.egress.connect_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    // The workspace's share, held by the lookup (a task of its own) until it really
    // ends, not by this request, which may give up first.
    let Ok(Ok(share)) =
        tokio::time::timeout_at(deadline, ctx.lookups.clone().acquire_owned()).await
    else {
        return Err(Failure::LookupsBusy);
    };
    let lookup = tokio::spawn(async move {
        let _share = share;
        resolver.call(name).await
    });
    match tokio::time::timeout_at(deadline, lookup).await {
        Err(_) => Err(Failure::ResolveTimeout(timeout)),
        Ok(Err(join)) => Err(Failure::Unresolved(io::Error::other(join))),
        Ok(Ok(Err(err))) if lookup::busy(&err) => Err(Failure::LookupsBusy),
        Ok(Ok(Err(err))) => Err(Failure::Unresolved(err)),
        Ok(Ok(Ok(addrs))) => Ok(addrs
            .map(|addr| SocketAddr::new(addr.ip(), target.port))
            .collect()),
    }
}
