import Foundation
import Testing
import Xelion

@testable import Relay

@Suite("Configuration")
struct ConfigurationLoaderTests {
    let base = URL(fileURLWithPath: "/etc/callrelay")

    func problems(_ yaml: String, environment: [String: String] = ["ACME_PW": "s3cret-value"]) -> [ConfigurationProblem] {
        do {
            _ = try ConfigurationLoader(environment: environment).parse(yaml, file: "callrelay.yaml", baseDirectory: base)
            return []
        } catch {
            return error.problems
        }
    }

    @Test("reads the contract's example, with defaults and relative paths")
    func valid() throws {
        let yaml = """
            data_dir: ./data
            tenants:
              - name: acme
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_PW
                  user_space: callrelay-acme
                  app_key: key
                  events: [newCallEvent, callHungUpEvent]
              - name: beta
                xelion:
                  url: https://pbx.example.com/api/v1/beta
                  username: admin
                  password_env: ACME_PW
            """
        let configuration = try ConfigurationLoader(environment: ["ACME_PW": "pw"]).parse(
            yaml, file: "c.yaml", baseDirectory: base)
        #expect(configuration.dataDirectory.path == "/etc/callrelay/data")
        #expect(configuration.tenants.map(\.name) == ["acme", "beta"])
        #expect(configuration.tenants[0].xelion?.events == ["newCallEvent", "callHungUpEvent"])
        #expect(configuration.tenants[1].xelion?.events.count == 5)
        #expect(configuration.tenants[1].xelion?.credentials.userSpace == "callrelay-beta")
        #expect(configuration.tenants[1].xelion?.credentials.baseURL == "https://pbx.example.com/api/v1/beta/")
        #expect(configuration.tenants[0].xelion?.credentials.password == "pw")
    }

    @Test("names file, line, key and reason for every problem, misspellings included")
    func problemsReported() {
        let found = problems(
            """
            data_dir: ./data
            tenant:
              - name: x
            """)
        #expect(found.contains { $0.key == "tenant" && $0.reason.contains("did you mean 'tenants'") && $0.line == 2 })
        #expect(found.contains { $0.key == "tenants" && $0.reason.contains("missing") })

        let many = problems(
            """
            tenants:
              - name: acme
                xelion:
                  url: ftp://pbx
                  usernme: admin
                  password_env: MISSING_PW
                  ca_file: /nonexistent/ca.pem
                  events: [newCallEvent, "bad event"]
              - name: acme
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_PW
                  password_file: /run/secrets/acme
            """)
        let keys = Set(many.map(\.key))
        #expect(
            keys.isSuperset(of: [
                "tenants[0].xelion.url", "tenants[0].xelion.usernme", "tenants[0].xelion.username",
                "tenants[0].xelion.password_env", "tenants[0].xelion.ca_file", "tenants[0].xelion.events[1]",
                "tenants[1].xelion.password_env", "tenants[1].name",
            ]))
        #expect(many.first { $0.key == "tenants[0].xelion.usernme" }?.reason.contains("did you mean 'username'") == true)
        #expect(many.first { $0.key == "tenants[0].xelion.password_env" }?.description.hasPrefix("callrelay.yaml:6: ") == true)
        #expect(many.allSatisfy { $0.file == "callrelay.yaml" })
    }

    @Test("never puts a secret in a problem's text")
    func noSecrets() {
        let found = problems(
            """
            tenants:
              - name: acme
                xelion:
                  url: not a url
                  username: admin
                  password_env: ACME_PW
            """)
        #expect(!found.isEmpty)
        #expect(!found.map(\.description).joined().contains("s3cret-value"))
    }

    @Test("reads the journal, the log stream, include_raw and time_zone; defaults when absent")
    func journalAndStream() throws {
        let yaml = """
            journal:
              retention: 2d
              dedupe_window: 90s
              transfer_window: 4h
              transfer_max_entries: 5000
              durability: normal
            log_stream:
              path: ./events.jsonl
              format: pretty
              max_size: 10MiB
              keep: 2
            tenants:
              - name: acme
                include_raw: true
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_PW
                  time_zone: Europe/Amsterdam
            """
        let configuration = try ConfigurationLoader(environment: ["ACME_PW": "pw"]).parse(
            yaml, file: "c.yaml", baseDirectory: base)
        #expect(configuration.journal.retention == .seconds(2 * 86400))
        #expect(configuration.journal.dedupeWindow == .seconds(90))
        #expect(configuration.journal.durability == .normal)
        #expect(configuration.journal.dedupeMaxEntries == JournalOptions().dedupeMaxEntries)
        #expect(configuration.journal.transferWindow == .seconds(4 * 3600))
        #expect(configuration.journal.transferMaxEntries == 5000)
        #expect(
            configuration.logStream == .init(path: "/etc/callrelay/events.jsonl", format: .pretty, maxBytes: 10 << 20, keep: 2))
        #expect(configuration.tenants[0].includeRaw)
        #expect(configuration.tenants[0].xelion?.timeZone.identifier == "Europe/Amsterdam")

        let minimal = """
            tenants:
              - name: acme
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_PW
            """
        let defaults = try ConfigurationLoader(environment: ["ACME_PW": "pw"]).parse(minimal, file: "c.yaml", baseDirectory: base)
        #expect(defaults.logStream == .init())
        #expect(defaults.journal == JournalOptions())
        #expect(!defaults.tenants[0].includeRaw)
        #expect(defaults.tenants[0].xelion?.timeZone.secondsFromGMT() == 0)
    }

    @Test("a bad duration, size, format, durability, entry limit or time zone is a located problem")
    func journalProblems() {
        let found = problems(
            """
            journal:
              retention: forever
              durability: maybe
              dedupe_max_entries: 10
              transfer_max_entries: lots
            log_stream:
              format: xml
              max_size: huge
            tenants:
              - name: acme
                include_raw: sometimes
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_PW
                  time_zone: Mars/Olympus
            """)
        #expect(found.contains { $0.key == "journal.retention" && $0.line == 2 && $0.reason.contains("duration") })
        #expect(found.contains { $0.key == "journal.durability" && $0.reason.contains("full or normal") })
        #expect(found.contains { $0.key == "log_stream.format" && $0.reason.contains("json or pretty") })
        #expect(found.contains { $0.key == "journal.dedupe_max_entries" && $0.line == 4 && $0.reason.contains("1000") })
        #expect(found.contains { $0.key == "journal.transfer_max_entries" && $0.line == 5 })
        #expect(found.contains { $0.key == "log_stream.max_size" && $0.line == 8 })
        #expect(found.contains { $0.key == "tenants[0].include_raw" && $0.reason.contains("true or false") })
        #expect(found.contains { $0.key == "tenants[0].xelion.time_zone" && $0.reason.contains("Mars/Olympus") })
    }

    static let webhookYAML = """
        data_dir: ./data
        tenants:
          - name: acme
            xelion:
              url: https://pbx.example.com/api/v1/acme/
              username: admin
              password_env: ACME_PW
            webhooks:
              - url: https://crm.example.com/hooks/calls
                secret_env: [ACME_HOOK_OLD, ACME_HOOK_NEW]
                headers_env: {Authorization: ACME_CRM_TOKEN}
                types: [call.ended, call.missed]
                timeout: 5s
                retry_schedule: [0s, 1m]
                concurrency: 4
              - url: http://127.0.0.1:8080/hooks
                secret_env: ACME_HOOK_NEW
        """

    static let webhookSecret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    @Test("reads webhook endpoints: two secrets while rotating, headers from the environment, types, schedule, concurrency")
    func webhooks() throws {
        let environment = [
            "ACME_PW": "pw", "ACME_HOOK_OLD": ConfigurationLoaderTests.webhookSecret,
            "ACME_HOOK_NEW": ConfigurationLoaderTests.webhookSecret,
            "ACME_CRM_TOKEN": "Bearer t",
        ]
        let configuration = try ConfigurationLoader(environment: environment).parse(
            Self.webhookYAML, file: "c.yaml", baseDirectory: base)
        let endpoints = configuration.tenants[0].webhooks
        #expect(endpoints.count == 2)
        #expect(endpoints[0].secrets.count == 2)
        #expect(endpoints[0].headers.map(\.name) == ["Authorization"] && endpoints[0].headers.map(\.value) == ["Bearer t"])
        #expect(endpoints[0].types == ["call.ended", "call.missed"])
        #expect(endpoints[0].timeout == .seconds(5))
        #expect(endpoints[0].schedule.delays == [.seconds(0), .seconds(60)])
        #expect(endpoints[0].concurrency == 4)
        #expect(endpoints[1].concurrency == RelayConfiguration.WebhookEndpoint.defaultConcurrency)
        #expect(endpoints[1].timeout == .seconds(15))
    }

    @Test("a concurrency out of range is a located problem")
    func webhookConcurrency() {
        let environment = [
            "ACME_PW": "pw", "ACME_HOOK_OLD": ConfigurationLoaderTests.webhookSecret,
            "ACME_HOOK_NEW": ConfigurationLoaderTests.webhookSecret,
            "ACME_CRM_TOKEN": "t",
        ]
        for bad in ["0", "1000", "many"] {
            let found = problems(
                Self.webhookYAML.replacingOccurrences(of: "concurrency: 4", with: "concurrency: \(bad)"), environment: environment
            )
            #expect(found.map(\.key) == ["tenants[0].webhooks[0].concurrency"], "\(bad): \(found)")
            #expect(found.first?.line == 15)
        }
    }

    @Test("commands that only read the data directory need none of the daemon's secrets")
    func withoutSecrets() throws {
        // No password, webhook secret or header value in the environment at all.
        #expect(!problems(Self.webhookYAML, environment: [:]).isEmpty, "run and check do need them")
        let configuration = try ConfigurationLoader(environment: [:], readsSecrets: false).parse(
            Self.webhookYAML, file: "c.yaml", baseDirectory: base)
        #expect(configuration.dataDirectory.path == "/etc/callrelay/data")
        #expect(
            configuration.tenants[0].webhooks.map(\.url) == [
                "https://crm.example.com/hooks/calls", "http://127.0.0.1:8080/hooks",
            ])
        #expect(configuration.tenants[0].webhooks.allSatisfy { $0.secrets.isEmpty && $0.headers.isEmpty })
        // Everything else is still checked.
        let misspelt = Self.webhookYAML.replacingOccurrences(of: "concurrency: 4", with: "concurency: 4")
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader(environment: [:], readsSecrets: false).parse(misspelt, file: "c.yaml", baseDirectory: base)
        }
    }

    @Test("refuses what is not YAML or not a mapping")
    func notYAML() {
        #expect(problems("tenants: [").first?.reason.contains("not valid YAML") == true)
        #expect(problems("- a\n- b").first?.reason.contains("mapping") == true)
    }
}

/// A careless configuration is refused at start with its place and reason, or warned about; it
/// never crashes `check` and never prints a secret.
@Suite("Configuration: refused and warned")
struct ConfigurationSafetyTests {
    let base = URL(fileURLWithPath: "/etc/callrelay")
    let environment = ["ACME_PW": "pw", "HOOK": ConfigurationLoaderTests.webhookSecret]

    func parse(_ yaml: String) throws(ConfigurationError) -> RelayConfiguration {
        try ConfigurationLoader(environment: environment).parse(yaml, file: "c.yaml", baseDirectory: base)
    }

    func problems(_ yaml: String) -> [ConfigurationProblem] {
        do {
            _ = try parse(yaml)
            return []
        } catch {
            return error.problems
        }
    }

    func tenant(url: String = "https://pbx.example.com/api/v1/acme/", webhooks: String = "") -> String {
        """
        tenants:
          - name: acme
            xelion:
              url: \(url)
              username: admin
              password_env: ACME_PW
        \(webhooks)
        """
    }

    @Test("sizes and durations that overflow, or are negative, are located problems, not a crash")
    func overflow() throws {
        for (key, value) in [
            ("max_size", "99999999999TiB"), ("max_size", "-5"), ("max_size", "-1MiB"), ("max_size", "9223372036854775807KiB"),
        ] {
            let found = problems("log_stream:\n  \(key): \(value)\n" + tenant())
            #expect(found.map(\.key) == ["log_stream.\(key)"], "\(value): \(found)")
        }
        for value in ["9223372036854775807d", "106751991167301d", "999999999999h", "-1s"] {
            let found = problems("journal:\n  retention: \(value)\n" + tenant())
            #expect(found.map(\.key) == ["journal.retention"], "\(value): \(found)")
        }
        let hook = """
                webhooks:
                  - url: https://crm.example.com/hooks
                    secret_env: HOOK
                    timeout: 9223372036s
            """
        #expect(problems(tenant(webhooks: hook)).map(\.key) == ["tenants[0].webhooks[0].timeout"])
        #expect(try parse("log_stream:\n  max_size: 1TiB\n" + tenant()).logStream.maxBytes == 1 << 40)
    }

    @Test("the same webhook URL twice for one tenant is refused, naming the second")
    func duplicateEndpoint() {
        let hooks = """
                webhooks:
                  - url: https://crm.example.com/hooks
                    secret_env: HOOK
                    types: [call.started]
                  - url: https://crm.example.com/hooks
                    secret_env: HOOK
                    types: [call.ended]
            """
        let found = problems(tenant(webhooks: hooks))
        #expect(found.map(\.key) == ["tenants[0].webhooks[1].url"], "\(found)")
        #expect(found.first?.reason.contains("listed twice") == true)
        #expect(found.first?.line == 11)
    }

    @Test("a YAML syntax error gives its position and problem, never the line's text")
    func yamlErrorQuotesNothing() {
        let yaml = """
            tenants:
              - name: acme
                webhooks:
                  - url: https://crm.example.com/hooks
                    headers: {Authorization: "Bearer crm-secret-token
            """
        let found = problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.reason.contains("not valid YAML") == true)
        #expect(found.first?.line != nil)
        #expect(!"\(found)".contains("crm-secret-token"), "\(found)")
    }

    @Test("http:// for the PBX or a webhook off this machine is a warning naming the key; loopback is not")
    func clearText() throws {
        let hooks = """
                webhooks:
                  - url: http://crm.example.com/hooks
                    secret_env: HOOK
                  - url: http://127.0.0.1:8080/hooks
                    secret_env: HOOK
            """
        let configuration = try parse(tenant(url: "http://pbx.example.com/api/v1/acme/", webhooks: hooks))
        #expect(
            configuration.warnings.map(\.key).sorted() == ["tenants[0].webhooks[0].url", "tenants[0].xelion.url"],
            "\(configuration.warnings)")
        #expect(configuration.warnings.allSatisfy { $0.reason.contains("in clear") })
        #expect(try parse(tenant()).warnings.isEmpty)
    }

    @Test("a password_file that is not UTF-8 is a problem, not a tenant silently dropped")
    func passwordFileNotText() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pwfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("password")
        try Data([0xFF, 0xFE, 0x00, 0xC3]).write(to: file)
        let yaml = tenant().replacingOccurrences(of: "password_env: ACME_PW", with: "password_file: \(file.path)")
        let found = problems(yaml)
        #expect(found.map(\.key) == ["tenants[0].xelion.password_file"], "\(found)")
        #expect(found.first?.reason.contains("UTF-8") == true)
    }

    @Test("passwords and webhook secrets are read from files alike: without the line break at the end, anything else kept")
    func secretFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try " pass word \r\n".write(to: directory.appendingPathComponent("password"), atomically: true, encoding: .utf8)
        try (ConfigurationLoaderTests.webhookSecret + "\n").write(
            to: directory.appendingPathComponent("hook"), atomically: true, encoding: .utf8)
        try Data([0xFF, 0xFE]).write(to: directory.appendingPathComponent("binary"))
        let webhooks = """
                webhooks:
                  - url: https://crm.example.com/hook
                    secret_file: hook
            """
        let yaml = tenant(webhooks: webhooks).replacingOccurrences(of: "password_env: ACME_PW", with: "password_file: password")
        let configuration = try ConfigurationLoader(environment: [:]).parse(yaml, file: "c.yaml", baseDirectory: directory)
        #expect(configuration.tenants[0].xelion?.credentials.password == " pass word ")
        #expect(configuration.tenants[0].webhooks[0].secrets == [ConfigurationLoaderTests.webhookSecret])
        let binary = tenant(webhooks: webhooks.replacingOccurrences(of: "secret_file: hook", with: "secret_file: binary"))
        do {
            _ = try ConfigurationLoader(environment: ["ACME_PW": "pw"]).parse(binary, file: "c.yaml", baseDirectory: directory)
            Issue.record("a secret_file that is not text was accepted")
        } catch {
            #expect(error.problems.map(\.key) == ["tenants[0].webhooks[0].secret_file"])
            #expect(error.problems.first?.reason.contains("is not UTF-8 text") == true, "\(error.problems)")
        }
    }
}
