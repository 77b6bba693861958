import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A signal one task waits on: new events were committed, or an attempt finished. A signal that
/// comes while nobody waits is kept for the next wait, so none is lost.
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())
    /// Times the waits out. A NIO timer is removed when cancelled; a cancelled `Task.sleep` stays in
    /// Dispatch's timer heap until it would have fired, and a busy deliverer waits hundreds of times
    /// a second.
    private let timers: any EventLoop

    init(timers: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) {
        self.timers = timers
    }

    func signal() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.signalled = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal, after `timeout`, or when the task is cancelled.
    func wait(timeout: Duration) async {
        if state.withLockedValue({ state in
            defer { state.signalled = false }
            return state.signalled
        }) {
            return
        }
        let timer = timers.scheduleTask(in: TimeAmount(timeout)) { self.signal() }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLockedValue { state -> Bool in
                    if state.signalled {
                        state.signalled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
