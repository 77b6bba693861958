import ArgumentParser
import Foundation

/// `callrelay`: the command line. Each subcommand is a thin layer over the libraries.
@main
struct CallRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callrelay",
        abstract: "Relays PBX call events to CRMs and log streams.",
        // The release this build is; CHANGELOG.md says what each one changed.
        version: "0.2.0",
        subcommands: [
            DemoCommand.self, RunCommand.self, CheckCommand.self, TailCommand.self, DeliveriesCommand.self, GapsCommand.self,
            SimulateCommand.self,
            WebSocketCommand.self,
        ]
    )

    static func main() async {
        unblockShutdownSignals()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// A process inherits its parent's signal mask; a supervisor (or a test runner) that blocks
    /// SIGTERM would otherwise leave the daemon deaf to its shutdown signal. Unblocked on the main
    /// thread, which stays alive, so the signal always has a thread to land on.
    static func unblockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        for number in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, number) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
