import Dispatch
import Foundation

/// Runs a closure on SIGINT or SIGTERM instead of dying, so a tool can close its socket cleanly.
/// The sources are set once in `init` and only cancelled after, which Dispatch makes thread-safe.
final class InterruptHandler: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ action: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
