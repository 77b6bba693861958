import Foundation

/// What a webhook deliverer needs of the journal: one endpoint's queue of deliveries, each row
/// written in its event's own commit. ``Journal`` (SQLite) is the implementation; a store shared by
/// several instances would be another.
public protocol DeliveryQueue: Sendable {
    /// The newest event's sequence, 0 when there is none.
    func newestSequence() async throws(JournalError) -> Int64
    /// Calls with a delivery pending, up to `limit`.
    func pendingCalls(endpoint: String, limit: Int) async throws(JournalError) -> Set<String>
    /// The newest failure on record, if the endpoint's last outcome was one.
    func lastFailure(endpoint: String) async throws(JournalError) -> String?
    /// Up to `limit` deliveries due at `now`, each the oldest pending of its call, leaving out `busyCalls`.
    func dueDeliveries(
        endpoint: String, now: Date, limit: Int, busyCalls: Set<String>
    ) async throws(JournalError) -> [PendingDelivery]
    /// Up to `limit` of the call's pending deliveries after `sequence`, in order, up to the first one
    /// that is not due.
    func nextDeliveries(
        endpoint: String, callKey: String, after sequence: Int64, now: Date, limit: Int
    ) async throws(JournalError) -> [PendingDelivery]
    /// Whether any of the call's deliveries is pending, due or not.
    func hasPending(endpoint: String, callKey: String) async throws(JournalError) -> Bool
    /// When the next pending delivery is due, if any is.
    func nextDue(endpoint: String, now: Date) async throws(JournalError) -> Date?
    /// Records a success without waiting for the write; the ticket tells when it is on record.
    func recordDelivered(
        endpoint: String, sequence: Int64, attempts: Int, onError: @escaping @Sendable (JournalError) -> Void
    ) -> DeliveredMarkTicket
    /// Returns once the success `ticket` stands for is on record (or its write failed).
    func waitUntilRecorded(_ ticket: DeliveredMarkTicket) async
    /// Records a failed attempt: tried again at `retryAt`, or a dead letter when nil.
    func markFailed(
        endpoint: String, sequence: Int64, attempts: Int, error: String, retryAt: Date?
    ) async throws(JournalError)
    /// Makes every pending retry of the endpoint due at `now`; returns how many moved.
    func expediteRetries(endpoint: String, now: Date) async throws(JournalError) -> Int
}

extension DeliveryQueue {
    func dueDeliveries(endpoint: String, limit: Int, busyCalls: Set<String>) async throws(JournalError) -> [PendingDelivery] {
        try await dueDeliveries(endpoint: endpoint, now: Date(), limit: limit, busyCalls: busyCalls)
    }

    func nextDelivery(endpoint: String, callKey: String, after sequence: Int64) async throws(JournalError) -> PendingDelivery? {
        try await nextDeliveries(endpoint: endpoint, callKey: callKey, after: sequence, now: Date(), limit: 1).first
    }

    func nextDue(endpoint: String) async throws(JournalError) -> Date? {
        try await nextDue(endpoint: endpoint, now: Date())
    }

    func expediteRetries(endpoint: String) async throws(JournalError) -> Int {
        try await expediteRetries(endpoint: endpoint, now: Date())
    }
}

extension Journal: DeliveryQueue {}
