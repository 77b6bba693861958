import Foundation
import Relay
import Testing

@Suite struct FileDescriptorLimitTests {
    /// A relay started under a low soft limit raises it itself, as far as the hard limit allows,
    /// and never lowers a limit that is already enough.
    @Test func raisesTheSoftLimit() throws {
        let original = try #require(FileDescriptorLimit.current())
        try #require(original.soft > 200)
        var lowered = rlimit(rlim_cur: rlim_t(original.soft - 50), rlim_max: rlim_t(original.hard))
        try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        defer {
            var restored = rlimit(rlim_cur: rlim_t(original.soft), rlim_max: rlim_t(original.hard))
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restored)
        }
        let raised = try #require(FileDescriptorLimit.raise(to: original.soft))
        #expect(raised.soft == original.soft)
        let unchanged = try #require(FileDescriptorLimit.raise(to: 10))
        #expect(unchanged.soft == original.soft)
        let capped = try #require(FileDescriptorLimit.raise(to: .max))
        #expect(capped.soft == original.hard)
    }

    @Test func neededGrowsWithTenants() {
        #expect(FileDescriptorLimit.needed(tenants: 10_000, endpoints: 0) == 20_128)
        #expect(FileDescriptorLimit.needed(tenants: 1, endpoints: 1) == 138)
    }
}
