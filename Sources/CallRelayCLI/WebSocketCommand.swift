import ArgumentParser
import Foundation
import Logging
import NIOCore
import WebSocket

/// `callrelay ws ...`: tools for looking at a WebSocket with callrelay's own socket layer.
struct WebSocketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws",
        abstract: "Look at a WebSocket with callrelay's own RFC 6455 client.",
        subcommands: [WebSocketTail.self, WebSocketEcho.self]
    )
}

/// Options every `ws` tool shares.
struct SocketOptions: ParsableArguments {
    @Argument(help: "A ws:// or wss:// URL.")
    var url: String

    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates trusted in addition to the system's.")
    var caFile: String?

    @Flag(name: .customLong("no-compression"), help: "Do not offer permessage-deflate.")
    var noCompression = false

    @Option(name: .customLong("max-message-size"), help: "Largest message accepted, in bytes.")
    var maxMessageSize = 16 * 1024 * 1024

    @Option(name: .customLong("ping-interval"), help: "Seconds of silence before a ping is sent.")
    var pingInterval = 20.0

    @Option(name: .customLong("ping-timeout"), help: "Seconds to wait for a pong before giving up on a silent server.")
    var pingTimeout = 20.0

    /// - Parameter bufferMessages: complete messages held for the consumer before the socket stops
    ///   being read; a tool that prints them takes a read's worth at a time, so it needs room for
    ///   more than one read (the byte bound still caps the memory).
    func configuration(headers: [(name: String, value: String)] = [], bufferMessages: Int = 64) -> WebSocketClientConfiguration {
        WebSocketClientConfiguration(
            headers: headers,
            compression: noCompression ? nil : PerMessageDeflateOptions(),
            limits: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize),
            keepalive: .init(interval: .milliseconds(Int(pingInterval * 1000)), timeout: .milliseconds(Int(pingTimeout * 1000))),
            caFile: caFile,
            inboundBufferMessages: bufferMessages
        )
    }
}

/// Exit statuses of the `ws` tools, for scripts and conformance suites: 0 when the closing handshake
/// completed (a clean close in RFC 6455's sense, whatever the code), 1 otherwise.
enum SocketExit {
    static func report(_ error: WebSocketError) -> ExitCode {
        FileHandle.standardError.write(Data("callrelay: \(error)\n".utf8))
        return ExitCode(1)
    }
}

/// Reports how the connection ended on stderr and turns it into the exit status.
func finish(_ connection: WebSocketConnection) async -> ExitCode {
    do {
        let close = try await connection.closeResult
        FileHandle.standardError.write(Data("callrelay: closed with \(close)\n".utf8))
        return .success
    } catch {
        return SocketExit.report(error)
    }
}

struct WebSocketTail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print every message as one line until the socket closes.",
        discussion: """
            Text messages are printed as they are, binary ones as base64. The exit status is 0 after a \
            clean close (the closing handshake completed; the code is reported on stderr) and 1 after a \
            failed handshake, a protocol error or a dropped connection. Ctrl-C closes the socket with 1000.
            """
    )

    @OptionGroup var socket: SocketOptions

    @Option(name: .customLong("send"), help: "A text message to send once connected (repeatable).")
    var send: [String] = []

    @Option(name: .customLong("header"), help: "An extra request header, NAME:VALUE (repeatable).")
    var header: [String] = []

    func run() async throws {
        var headers: [(name: String, value: String)] = []
        for item in header {
            guard let colon = item.firstIndex(of: ":") else {
                throw ValidationError("--header takes NAME:VALUE, got '\(item)'")
            }
            headers.append((String(item[..<colon]), item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let connection: WebSocketConnection
        do {
            connection = try await WebSocketClient.connect(
                to: socket.url, configuration: socket.configuration(headers: headers, bufferMessages: 1024))
        } catch {
            throw SocketExit.report(error)
        }
        let interrupt = InterruptHandler { Task { try? await connection.close(code: .normalClosure) } }
        defer { interrupt.cancel() }
        do {
            for text in send { try await connection.send(.text(text)) }
            var output = LineBuffer()
            var messages = connection.messages.makeAsyncIterator()
            while let message = try await messages.next() {
                switch message {
                case .text(let text): try output.append(text)
                case .binary(let data): try output.append(Data(data.readableBytesView).base64EncodedString())
                }
                // The messages of one read are written together; the last of them is never held back.
                if !messages.hasBufferedMessage { try output.flush() }
            }
        } catch let error as OutputError {
            // The close frame goes out, but nobody waits for the server's answer: with no one to
            // print to, a server still sending would hold the command for the close timeout.
            try? await connection.sendClose(code: .goingAway)
            throw error.exit()
        } catch {
            // The outcome below says what happened.
        }
        let status = await finish(connection)
        if status != .success { throw status }
    }
}

struct WebSocketEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Echo every message back, for conformance suites.",
        discussion: """
            Connects (offering permessage-deflate unless --no-compression), sends every complete message \
            back with the same type, answers pings and completes the closing handshake the server starts. \
            Exits 0 after a clean close; 1 after a failed handshake, a protocol error, a dropped \
            connection or a server that stays silent past the ping timeout.
            """
    )

    @OptionGroup var socket: SocketOptions

    func run() async throws {
        let connection: WebSocketConnection
        do {
            connection = try await WebSocketClient.connect(to: socket.url, configuration: socket.configuration())
        } catch {
            throw SocketExit.report(error)
        }
        do {
            for try await message in connection.messages {
                try await connection.send(message)
            }
        } catch {
            // The outcome below says what happened.
        }
        let status = await finish(connection)
        if status != .success { throw status }
    }
}
