import CallEvents
import Foundation
import GRDB

/// Finds attended transfers the PBX does not announce: a party whose flow was connected to one user
/// in an earlier call and is now connected to another in a new call was handed over.
///
/// Xelion's flow ids follow one party through transfers: after
/// customer C → user A, A consults B and transfers, the new call C → B carries C's flow id.
///
/// The connections live in memory, like the dedupe marks, and the journal is their durable form: at
/// start they are read back from the connected events of the last `window`. A lookup in memory
/// instead of two indexed queries per connected event was about a tenth of the commit's time, and
/// the events table lost the two indexes it kept for them. A commit's connections join the table as
/// it records them (one hash each for the lookup and the update), and its ``Batch`` keeps what they
/// replaced: a rolled-back commit puts that back (``rollBack(_:now:)``).
///
/// Only a flow's newest connection is kept: a repeat of the new call's connection (a replay after a
/// reconnect, outside the dedupe window) then finds its own call and names the transfer no second
/// time.
///
/// Bounded: a connection older than `window`, or beyond `maxEntries` flows, is forgotten, so a
/// transfer more than `window` after the customer's previous connection is not named (the events
/// themselves are all forwarded). Memory: about 400 bytes a flow.
final class TransferCorrelation: Sendable {
    /// Each flow's newest connection, with when.
    private let flows: WindowedTable<FlowKey, Connection>

    /// One side of connected calls: `flow` as the caller's flow or as the callee's.
    struct FlowKey: Hashable, Sendable {
        var tenant: String
        var flow: String
        var asCaller: Bool
    }

    /// A call in which a flow was connected, and the party at the other end.
    struct Connection: Sendable {
        var callId: String
        var other: CallParty
    }

    /// What a commit's connections replaced, in order, to put back if it fails.
    struct Batch {
        fileprivate var replaced: [(key: FlowKey, previous: (value: Connection, at: Double)?)] = []
    }

    init(window: Double, maxEntries: Int) {
        flows = WindowedTable(window: window, maxEntries: maxEntries)
    }

    /// How many flows are remembered.
    var count: Int { flows.count }

    /// The `call.transferred` that `event` reveals, if any; records a connected event's flows in
    /// `batch`.
    func transfer(after event: CallEvent, now: Double, batch: inout Batch) -> CallEvent? {
        guard event.type == .connected, let caller = event.data.caller, let callee = event.data.callee else { return nil }
        // The parts, not the whole `data`: copying it retains some forty strings.
        let (tenant, callId) = (event.data.tenant, event.data.callId)
        var found: CallEvent?
        if let flow = caller.flowId {
            let key = FlowKey(tenant: tenant, flow: flow, asCaller: true)
            if let previous = record(key, Connection(callId: callId, other: callee), now: now, batch: &batch),
                previous.callId != callId, previous.other.flowId != callee.flowId
            {
                found = Self.event(
                    event,
                    transfer: CallTransfer(party: caller, from: previous.other, to: callee, previousCallId: previous.callId))
            }
        }
        if let flow = callee.flowId {
            let key = FlowKey(tenant: tenant, flow: flow, asCaller: false)
            if let previous = record(key, Connection(callId: callId, other: caller), now: now, batch: &batch), found == nil,
                previous.callId != callId, previous.other.flowId != caller.flowId
            {
                found = Self.event(
                    event,
                    transfer: CallTransfer(party: callee, from: previous.other, to: caller, previousCallId: previous.callId))
            }
        }
        return found
    }

    /// Makes `connection` the flow's newest, and returns the one before it if that is inside the window.
    private func record(_ key: FlowKey, _ connection: Connection, now: Double, batch: inout Batch) -> Connection? {
        let previous = flows.exchange(key, connection, now: now)
        batch.replaced.append((key, previous))
        guard let previous, previous.at > now - flows.window else { return nil }
        return previous.value
    }

    /// The batch's transaction failed: the connections it replaced are put back.
    func rollBack(_ batch: Batch, now: Double) {
        flows.restore(batch.replaced.reversed(), replacedAt: now)
    }

    /// Forgets connections outside the window and the oldest beyond `maxEntries`.
    func prune(now: Double) {
        flows.prune(now: now)
    }

    /// Reads the connections back from the connected events of the last `window`, as a restart needs
    /// them: newest first until one is older than the window (with a minute's margin, as
    /// `received_at` is only roughly in commit order across tenants) or `maxEntries` are found, then
    /// replayed oldest first.
    func load(from db: Database, now: Double) throws {
        let cutoff = now - flows.window
        var rows: [(tenant: String, callId: String, caller: CallParty?, callee: CallParty?, at: Double)] = []
        let cursor = try Row.fetchCursor(
            db,
            sql: """
                SELECT tenant, call_id, received_at,
                       json_extract(body, '$.data.caller'), json_extract(body, '$.data.callee')
                FROM events WHERE type = ? ORDER BY seq DESC
                """, arguments: [CallEventType.connected.rawValue])
        let decoder = JSONDecoder()
        func party(_ json: String?) -> CallParty? {
            json.flatMap { try? decoder.decode(CallParty.self, from: Data($0.utf8)) }
        }
        while let row = try cursor.next() {
            let at: Double = row[2]
            if at < cutoff - 60 || rows.count >= flows.maxEntries { break }
            guard at >= cutoff else { continue }
            rows.append((row[0], row[1], party(row[3]), party(row[4]), at))
        }
        var entries: [(key: FlowKey, value: Connection, at: Double)] = []
        for row in rows.reversed() {
            for (party, other, asCaller) in [(row.caller, row.callee, true), (row.callee, row.caller, false)] {
                guard let flow = party?.flowId, let other else { continue }
                let key = FlowKey(tenant: row.tenant, flow: flow, asCaller: asCaller)
                entries.append((key, Connection(callId: row.callId, other: other), row.at))
            }
        }
        flows.replace(with: entries, now: now)
    }

    private static func event(_ connected: CallEvent, transfer: CallTransfer) -> CallEvent {
        var data = connected.data
        data.transfer = transfer
        data.outcome = nil
        data.answeredBy = nil
        data.answeredAt = nil
        data.raw = nil
        let id = EventIdentity.id(
            tenant: data.tenant, provider: data.provider,
            parts: [CallEventType.transferred.rawValue, data.callId, data.caller?.flowId ?? "", data.callee?.flowId ?? ""])
        return CallEvent(id: id, type: .transferred, data: data)
    }
}
