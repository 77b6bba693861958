import CallEvents
import Foundation
import GRDB

/// Finds attended transfers the PBX does not announce: a party whose flow was connected to one user
/// in an earlier call and is now connected to another in a new call was handed over.
///
/// Xelion's flow ids follow one party through transfers (`../shared/docs/xelion-protocol.md`): after
/// customer C → user A, A consults B and transfers, the new call C → B carries C's flow id.
///
/// The connections live in memory, like the dedupe marks, and the journal is their durable form: at
/// start they are read back from the connected events of the last `window`. A lookup in memory
/// instead of two indexed queries per connected event was about a tenth of the commit's time, and
/// the events table lost the two indexes it kept for them. A commit sees its own earlier connections
/// (``Batch``), which join the table only once the transaction committed.
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

    /// The connections a commit records, until it is committed.
    struct Batch {
        fileprivate var flows: [FlowKey: Connection] = [:]
        /// The same connections in the order they were recorded, for the commit to set without
        /// looking each up again.
        fileprivate var order: [(FlowKey, Connection)] = []
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
            if let previous = connection(key, now: now, batch: batch), previous.callId != callId,
                previous.other.flowId != callee.flowId
            {
                found = Self.event(
                    event,
                    transfer: CallTransfer(party: caller, from: previous.other, to: callee, previousCallId: previous.callId))
            }
            record(key, Connection(callId: callId, other: callee), batch: &batch)
        }
        if let flow = callee.flowId {
            let key = FlowKey(tenant: tenant, flow: flow, asCaller: false)
            if found == nil, let previous = connection(key, now: now, batch: batch), previous.callId != callId,
                previous.other.flowId != caller.flowId
            {
                found = Self.event(
                    event,
                    transfer: CallTransfer(party: callee, from: previous.other, to: caller, previousCallId: previous.callId))
            }
            record(key, Connection(callId: callId, other: caller), batch: &batch)
        }
        return found
    }

    private func connection(_ key: FlowKey, now: Double, batch: Batch) -> Connection? {
        if let pending = batch.flows[key] { return pending }
        return flows.value(for: key, now: now)
    }

    private func record(_ key: FlowKey, _ connection: Connection, batch: inout Batch) {
        batch.flows[key] = connection
        batch.order.append((key, connection))
    }

    /// The batch's connections join the others: call only once its transaction has committed.
    func commit(_ batch: Batch, now: Double) {
        flows.set(batch.order, now: now)
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
