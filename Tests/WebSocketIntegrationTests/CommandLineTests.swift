import Foundation
import TestSupport
import Testing

/// `callrelay ws tail` and `callrelay ws echo` as a person or a conformance suite runs them.
@Suite("callrelay ws", .timeLimit(.minutes(2)))
struct CommandLineTests {
    /// Starts the Xelion test peer (`peer/xelion_peer.py`) on free loopback ports and logs in to get a socket URL.
    static func xelionSocketURL() async throws -> (peer: PeerProcess, url: String, ca: String) {
        let directory = TestEnvironment.temporaryDirectory()
        let ca = directory.appendingPathComponent("peer-ca.pem").path
        let peer = try await onFreePorts(2) { ports in
            try await PeerProcess.launch(
                TestEnvironment.python,
                [
                    TestEnvironment.sharedPeers.appendingPathComponent("xelion_peer.py").path,
                    "--rest-port", "\(ports[0])", "--ws-port", "\(ports[1])", "--ca-out", ca,
                ]
            )
        }
        guard let rest = peer.ready["rest"] as? String else { throw PeerError(description: "no REST URL in \(peer.ready)") }
        // The REST session is the Xelion issue's; here a few lines of Python fetch a socket URL.
        let login = """
            import json, ssl, sys, urllib.request
            base, ca = sys.argv[1], sys.argv[2]
            ctx = ssl.create_default_context(cafile=ca)
            def post(path, body=None, token=None):
                req = urllib.request.Request(base + "acme/" + path, data=json.dumps(body).encode() if body is not None else b"", method="POST")
                req.add_header("Content-Type", "application/json")
                if token: req.add_header("Authorization", "xelion " + token)
                return json.load(urllib.request.urlopen(req, context=ctx))
            token = post("me/login", {"userName": "admin", "password": "secret", "userSpace": "callrelay-test"})["authentication"]
            print(post("me/websocket", token=token)["object"])
            """
        let helper = try await PeerProcess.launch(TestEnvironment.python, ["-c", login, rest, ca], readyLine: false)
        let url = try await helper.line()
        #expect(await helper.exitStatus() == 0)
        return (peer, url, ca)
    }

    @Test("ws tail shows the Xelion peer's echo of a test message over wss:// with the peer's CA")
    func tailXelionPeer() async throws {
        let (peer, url, ca) = try await Self.xelionSocketURL()
        defer { peer.stop() }
        #expect(url.hasPrefix("wss://"))
        let tail = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["ws", "tail", url, "--ca-file", ca, "--send", #"{"messageType":"test"}"#],
            readyLine: false)
        #expect(try await tail.line() == #"{"messageType":"test"}"#)
        tail.interrupt()  // Ctrl-C: close with 1000 and exit 0
        #expect(await tail.exitStatus() == 0)
    }

    @Test("ws tail refuses the Xelion peer without its CA")
    func tailWithoutCA() async throws {
        let (peer, url, _) = try await Self.xelionSocketURL()
        defer { peer.stop() }
        let tail = try await PeerProcess.launch(TestEnvironment.callrelay, ["ws", "tail", url], readyLine: false)
        #expect(await tail.exitStatus() == 1)
        #expect(await tail.rest().isEmpty)
    }

    @Test("ws tail prints binary messages as base64 and exits 0 on a clean close")
    func tailBinary() async throws {
        let ports = try await offThread { try WebSocketPeer.start() }
        let tail = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["ws", "tail", ports.url("plain", "/send?n=2&size=10&binary=1")], readyLine: false)
        #expect(await tail.exitStatus() == 0)
        let lines = await tail.rest().split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(
            lines.first.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                == #"{"seq": 0, "pad": ""}"#)
    }

    @Test("ws tail | head -n 1: exits 0 at once and says nothing once its reader has gone")
    func tailIntoHead() async throws {
        let ports = try await offThread { try WebSocketPeer.start() }
        let errors = TestEnvironment.temporaryDirectory().appendingPathComponent("stderr").path
        // The server goes on sending 20 MB after `head` has its line: the write fails with EPIPE.
        let pipeline = try await PeerProcess.launch(
            "/bin/bash",
            [
                "-c",
                "set -o pipefail; '\(TestEnvironment.callrelay)' ws tail '\(ports.url("plain", "/send?n=20000&size=1000"))' "
                    + "2>'\(errors)' | head -n 1 > /dev/null",
            ], readyLine: false)
        #expect(await pipeline.exitStatus() == 0)
        #expect(try String(contentsOfFile: errors, encoding: .utf8) == "")
    }

    @Test(
        "ws echo echoes every message unchanged and exits 0 after the server's close",
        arguments: ["plain", "deflate", "client_max_window_bits"])
    func echoChecks(config: String) async throws {
        let ports = try await offThread { try WebSocketPeer.start() }
        let echo = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["ws", "echo", ports.url(config, "/check")], readyLine: false)
        #expect(await echo.exitStatus() == 0)
    }

    @Test("ws echo exits non-zero after a refused handshake, a reset, or a silent server")
    func echoFailures() async throws {
        let ports = try await offThread { try WebSocketPeer.start() }
        for (path, extra) in [
            ("/forbidden", [String]()), ("/reset", []), ("/vanish", ["--ping-interval", "0.3", "--ping-timeout", "0.3"]),
        ] {
            let echo = try await PeerProcess.launch(
                TestEnvironment.callrelay, ["ws", "echo", ports.url("plain", path)] + extra, readyLine: false)
            #expect(await echo.exitStatus() == 1, "\(path)")
        }
    }
}

/// The strict client conformance run of `Peers/conformance.py` (Autobahn's kinds of cases on raw
/// sockets) against `callrelay ws echo`.
@Suite("RFC 6455 / RFC 7692 conformance of ws echo", .timeLimit(.minutes(5)))
struct ConformanceTests {
    @Test("every case passes strictly", arguments: [false, true])
    func conformance(tls: Bool) async throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/WebSocketIntegrationTests/Peers/conformance.py")
            .path
        let run = try await PeerProcess.launch(
            TestEnvironment.python,
            [script, "--client", TestEnvironment.callrelay, "--jobs", "4"] + (tls ? ["--tls"] : []),
            readyLine: false
        )
        // Some 500 cases: on two busy cores (the whole suite runs at once) that can take over a minute.
        let status = await run.exitStatus(within: 240)
        let report = await run.rest()
        #expect(status == 0, "\(report)")
        #expect(report.contains(" passed, 0 failed"), "\(report)")
    }
}
