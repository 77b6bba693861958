import ArgumentParser

/// `callrelay`: the command line. Each subcommand is a thin layer over the libraries.
@main
struct CallRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callrelay",
        abstract: "Relays PBX call events to CRMs and log streams.",
        subcommands: [RunCommand.self, CheckCommand.self, GapsCommand.self, WebSocketCommand.self]
    )
}
