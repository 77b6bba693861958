import Foundation

/// Counters of what went through the pipeline.
public struct PipelineCounters: Sendable, Equatable {
    public var received = 0
    public var committed = 0
    public var duplicates = 0
    public var transfers = 0
    public var commits = 0
    /// Events the journal refused on their own, set aside as dead letters.
    public var refused = 0
    /// Time spent committing (the transactions; their fsyncs and sinks run beside the next one), in
    /// seconds.
    public var commitSeconds = 0.0
}
