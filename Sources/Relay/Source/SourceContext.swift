import CallEvents
import Foundation
import Logging

/// What every tenant's source shares, whatever its provider: where gaps, dead letters and signs of
/// life are kept, how many may connect at once, and where normalized events go.
public struct SourceContext: Sendable {
    public var dataDirectory: URL
    public var gaps: GapLog
    public var deadLetters: DeadLetterFile
    public var gate: ConnectGate?
    /// Every tenant's last sign of life, written to disk by the daemon (``SignsOfLife``).
    public var signsOfLife: SignsOfLife
    public var logger: Logger
    /// Hands one normalized event to the pipeline; returns once the pipeline has taken it (it waits
    /// while the pipeline's queue is full).
    public var submit: @Sendable (CallEvent) async -> Void

    public init(
        dataDirectory: URL, gaps: GapLog, deadLetters: DeadLetterFile, gate: ConnectGate?, logger: Logger,
        signsOfLife: SignsOfLife? = nil, submit: @escaping @Sendable (CallEvent) async -> Void
    ) {
        self.signsOfLife = signsOfLife ?? SignsOfLife(dataDirectory: dataDirectory)
        self.dataDirectory = dataDirectory
        self.gaps = gaps
        self.deadLetters = deadLetters
        self.gate = gate
        self.logger = logger
        self.submit = submit
    }
}
