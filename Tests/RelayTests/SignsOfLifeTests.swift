import Foundation
import Testing

@testable import Relay

@Suite struct SignsOfLifeTests {
    func dataDirectory() -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("signs-of-life-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    func files(in data: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("tenants").path).sorted()
    }

    /// Thousands of tenants cost one file replaced per interval, not one each: each replaced file
    /// makes the file system flush it before the journal's next sync completes.
    @Test func everyTenantInOneFile() throws {
        let data = dataDirectory()
        let book = SignsOfLife(dataDirectory: data)
        let base = Date(timeIntervalSince1970: 1_764_800_000)
        for index in 0..<2000 { book.record(base.addingTimeInterval(Double(index) / 8), tenant: "t\(index)") }
        #expect(try book.flush())
        #expect(try files(in: data) == ["alive"])

        let next = SignsOfLife(dataDirectory: data)
        for index in [0, 1, 999, 1999] {
            let date = try #require(next.load(tenant: "t\(index)"))
            #expect(abs(date.timeIntervalSince(base.addingTimeInterval(Double(index) / 8))) < 0.001)
        }
        #expect(next.load(tenant: "unknown") == nil)
    }

    @Test func writesOnlyWhenSomethingChanged() throws {
        let data = dataDirectory()
        let book = SignsOfLife(dataDirectory: data)
        #expect(try !book.flush())
        #expect(!FileManager.default.fileExists(atPath: book.path))
        book.record(Date(), tenant: "acme")
        #expect(try book.flush())
        #expect(try !book.flush())
    }

    /// A tenant's first time goes to disk at once (a relay killed just after its first start
    /// still leaves where its stream began); later ones wait for the interval.
    @Test func firstTimeAtOnceLaterOnesPerInterval() throws {
        let data = dataDirectory()
        let book = SignsOfLife(dataDirectory: data)
        let start = ContinuousClock.now
        book.record(Date(timeIntervalSince1970: 1_764_800_000), tenant: "acme")
        #expect(try book.flushIfDue(at: start))
        book.record(Date(timeIntervalSince1970: 1_764_800_010), tenant: "acme")
        #expect(try !book.flushIfDue(at: start + .seconds(10)))
        book.record(Date(timeIntervalSince1970: 1_764_800_011), tenant: "beta")
        #expect(try book.flushIfDue(at: start + .seconds(11)))
        book.record(Date(timeIntervalSince1970: 1_764_800_020), tenant: "acme")
        #expect(try !book.flushIfDue(at: start + .seconds(40)))
        #expect(try book.flushIfDue(at: start + .seconds(41)))
        #expect(try !book.flushIfDue(at: start + .seconds(100)), "nothing changed")
        #expect(SignsOfLife(dataDirectory: data).load(tenant: "acme") == Date(timeIntervalSince1970: 1_764_800_020))
    }

    /// A relay that kept one file per tenant: its times are read, and the files go once the shared
    /// file holds them.
    @Test func readsTheOneFilePerTenantLayout() throws {
        let data = dataDirectory()
        let tenants = data.appendingPathComponent("tenants")
        try FileManager.default.createDirectory(at: tenants, withIntermediateDirectories: true)
        try "1764800000.250\n".write(to: tenants.appendingPathComponent("acme.alive"), atomically: true, encoding: .utf8)
        try "not a time\n".write(to: tenants.appendingPathComponent("beta.alive"), atomically: true, encoding: .utf8)
        let book = SignsOfLife(dataDirectory: data)
        #expect(book.load(tenant: "acme") == Date(timeIntervalSince1970: 1_764_800_000.25))
        #expect(book.load(tenant: "beta") == nil)
        #expect(try book.flush())
        #expect(try files(in: data) == ["alive", "beta.alive"])
        #expect(SignsOfLife(dataDirectory: data).load(tenant: "acme") == Date(timeIntervalSince1970: 1_764_800_000.25))
    }

    /// A damaged line (a crash mid-write on a file system that allows it, a hand edit) costs only
    /// that tenant's time, which then makes no gap rather than a wrong one.
    @Test func damagedLinesAreSkipped() throws {
        let data = dataDirectory()
        let tenants = data.appendingPathComponent("tenants")
        try FileManager.default.createDirectory(at: tenants, withIntermediateDirectories: true)
        try "acme 1764800000.000\nbeta 17648x\ngamma inf\n\ndelta\nzeta 1e300\neta -5\nepsilon 1764800009.5"
            .write(to: tenants.appendingPathComponent("alive"), atomically: true, encoding: .utf8)
        let book = SignsOfLife(dataDirectory: data)
        #expect(book.load(tenant: "acme") == Date(timeIntervalSince1970: 1_764_800_000))
        #expect(book.load(tenant: "beta") == nil)
        #expect(book.load(tenant: "gamma") == nil)
        #expect(book.load(tenant: "delta") == nil)
        #expect(book.load(tenant: "epsilon") == Date(timeIntervalSince1970: 1_764_800_009.5))
        #expect(book.load(tenant: "zeta") == nil, "an absurd time is no time")
        #expect(book.load(tenant: "eta") == nil)
        book.record(Date(timeIntervalSince1970: 1e300), tenant: "theta")
        #expect(try book.flush(), "an absurd time from the clock is written, not a crash")
    }

    @Test func timesToTheMillisecond() {
        #expect(SignsOfLife.secondsText(Date(timeIntervalSince1970: 1_764_800_000.25)) == "1764800000.250")
        #expect(SignsOfLife.secondsText(Date(timeIntervalSince1970: 1_764_800_000.0004)) == "1764800000.000")
        #expect(SignsOfLife.secondsText(Date(timeIntervalSince1970: 1_764_800_000.0996)) == "1764800000.100")
        #expect(SignsOfLife.secondsText(Date(timeIntervalSince1970: 7.007)) == "7.007")
    }

    /// A data directory that cannot be written keeps the times in memory for the next attempt.
    @Test func aFailedWriteIsTriedAgain() throws {
        let data = dataDirectory()
        let blocked = data.appendingPathComponent("tenants")
        try "a file where the directory goes".write(to: blocked, atomically: true, encoding: .utf8)
        let book = SignsOfLife(dataDirectory: data)
        book.record(Date(timeIntervalSince1970: 1_764_800_000), tenant: "acme")
        #expect(throws: (any Error).self) { try book.flush() }
        try FileManager.default.removeItem(at: blocked)
        #expect(try book.flush())
        #expect(SignsOfLife(dataDirectory: data).load(tenant: "acme") == Date(timeIntervalSince1970: 1_764_800_000))
    }
}
