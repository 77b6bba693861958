import Foundation

/// A recorded success's place in line, to wait for it with ``Journal/waitUntilRecorded(_:)``.
public struct DeliveredMarkTicket: Sendable {
    /// Successes recorded up to and including this one.
    let count: Int
}

/// A success waiting to be recorded.
struct DeliveredMark: Sendable {
    var endpoint: String
    var sequence: Int64
    var attempts: Int
    var onError: @Sendable (JournalError) -> Void
}

/// Successes waiting for the writer, whether a write that records them is already queued, and the
/// tasks waiting for them to be on record.
///
/// Waiting is by count, not by queueing an empty write after the flush: that write need not run
/// after it (the flush is submitted after the lock that marks it scheduled, so a wait can get in
/// first), and a call released with its success unwritten would have its event posted again.
struct DeliveredMarks: Sendable {
    var marks: [DeliveredMark] = []
    var flushScheduled = false
    /// Marks recorded so far, and how many of them the writer has finished with (committed, or failed
    /// and reported).
    var recorded = 0
    var finished = 0
    var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
}
