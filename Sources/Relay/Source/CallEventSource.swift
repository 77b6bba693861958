/// Something that produces one tenant's call events and hands each to the pipeline: a connection the
/// relay holds to a PBX (Xelion's socket), or a provider that pushes webhooks to the relay.
///
/// ``RelayDaemon`` runs every source in one task group and cancels them on shutdown; a source never
/// returns by itself, and reports what it is doing through ``status``.
public protocol CallEventSource: Sendable {
    /// The tenant whose events this source produces.
    var tenant: String { get }
    /// What the source has done so far, for status output and tests.
    var status: TenantStatus { get }
    /// Produces events until the task is cancelled, then lets go of what it holds (a socket closed
    /// with 1001, a session logged out).
    func run() async
}
