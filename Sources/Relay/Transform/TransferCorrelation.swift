import CallEvents
import Foundation
import GRDB

/// Finds attended transfers the PBX does not announce: a party whose flow was connected to one user
/// in an earlier call and is now connected to another in a new call was handed over.
///
/// Xelion's flow ids follow one party through transfers (`../shared/docs/xelion-protocol.md`): after
/// customer C → user A, A consults B and transfers, the new call C → B carries C's flow id. The
/// lookup runs in the commit's transaction, against the journal, so it sees the events of the same
/// batch and survives restarts.
enum TransferCorrelation {
    static func transfer(after connected: CallEvent, db: Database) throws -> CallEvent? {
        guard connected.type == .connected else { return nil }
        let data = connected.data
        if let caller = data.caller, let flow = caller.flowId, let callee = data.callee,
            let previous = try lastConnected(
                tenant: data.tenant, column: "caller_flow", flow: flow, excluding: data.callId, side: "callee", db: db),
            previous.party.flowId != callee.flowId
        {
            return event(
                connected,
                transfer: CallTransfer(party: caller, from: previous.party, to: callee, previousCallId: previous.callId))
        }
        if let callee = data.callee, let flow = callee.flowId, let caller = data.caller,
            let previous = try lastConnected(
                tenant: data.tenant, column: "callee_flow", flow: flow, excluding: data.callId, side: "caller", db: db),
            previous.party.flowId != caller.flowId
        {
            return event(
                connected,
                transfer: CallTransfer(party: callee, from: previous.party, to: caller, previousCallId: previous.callId))
        }
        return nil
    }

    /// The call and one side of the newest other connection of `flow`: only that side is read out of
    /// the stored JSON (decoding the whole event was a third of this lookup).
    private static func lastConnected(
        tenant: String, column: String, flow: String, excluding callId: String, side: String, db: Database
    ) throws -> (callId: String, party: CallParty)? {
        let sql = """
            SELECT call_id, json_extract(body, '$.data.\(side)') FROM events
            WHERE tenant = ? AND \(column) = ? AND type = 'call.connected' AND call_id <> ?
            ORDER BY seq DESC LIMIT 1
            """
        guard let row = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [tenant, flow, callId]),
            let json = row[1] as String?,
            let party = try? JSONDecoder().decode(CallParty.self, from: Data(json.utf8))
        else { return nil }
        return (row[0], party)
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
