import CallEvents
import Testing

@Suite("Phone numbers")
struct PhoneNumberTests {
    @Test(
        "E.164 only where the text leaves no doubt",
        arguments: [
            ("+31 20 123 4567", "+31201234567"), ("0031201234567", "+31201234567"), ("+1 (415) 555-0100", "+14155550100"),
            ("020 1234567", nil), ("1234", nil), ("+31abc", nil), ("", nil), ("+0123456789", nil),
        ] as [(String, String?)])
    func e164(input: String, expected: String?) {
        #expect(PhoneNumber.e164(input) == expected)
    }
}
