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
                tenant: data.tenant, column: "caller_flow", flow: flow, excluding: data.callId, db: db),
            let from = previous.data.callee, from.flowId != callee.flowId
        {
            return event(
                connected, transfer: CallTransfer(party: caller, from: from, to: callee, previousCallId: previous.data.callId))
        }
        if let callee = data.callee, let flow = callee.flowId, let caller = data.caller,
            let previous = try lastConnected(
                tenant: data.tenant, column: "callee_flow", flow: flow, excluding: data.callId, db: db),
            let from = previous.data.caller, from.flowId != caller.flowId
        {
            return event(
                connected, transfer: CallTransfer(party: callee, from: from, to: caller, previousCallId: previous.data.callId))
        }
        return nil
    }

    private static func lastConnected(
        tenant: String, column: String, flow: String, excluding callId: String, db: Database
    ) throws -> CallEvent? {
        let sql = """
            SELECT body FROM events WHERE tenant = ? AND \(column) = ? AND type = 'call.connected' AND call_id <> ?
            ORDER BY seq DESC LIMIT 1
            """
        guard let body = try String.fetchOne(db.cachedStatement(sql: sql), arguments: [tenant, flow, callId]) else {
            return nil
        }
        return try? CallEvent.decode(json: body)
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
