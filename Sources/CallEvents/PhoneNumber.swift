import CallRelayCore

/// Phone numbers in E.164, derived only where the text leaves no doubt.
public enum PhoneNumber {
    /// `+31 20 123 4567`, `+31-20-1234567`, `0031201234567`, `+31 (0)20 123 4567` → `+31201234567`
    /// (the national trunk prefix in parentheses is dropped). A national number (`020 1234567`) or
    /// anything else that needs a country guess gives nil: the original is kept in `number` either way.
    public static func e164(_ text: String) -> String? {
        text.withUTF8Bytes { e164($0) }
    }

    private static func e164(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
        // On the stack: an E.164 number fits in 16 bytes, and it is made for both sides of every event.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 19) { digits -> String? in
            digits[0] = UInt8(ascii: "+")
            var count = 1
            var sawPlus = false
            // Where the digits inside the open parenthesis begin.
            var parenthesis: Int?
            for index in utf8.indices {
                let byte = utf8[index]
                switch byte {
                case UInt8(ascii: "+") where index == 0: sawPlus = true
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard count < 19 else { return nil }
                    digits[count] = byte
                    count += 1
                case UInt8(ascii: "("):
                    parenthesis = count
                case UInt8(ascii: ")"):
                    // `(0)` after the country code is the trunk prefix dialled at home only.
                    if let start = parenthesis, count == start + 1, digits[start] == UInt8(ascii: "0"), start > 1 {
                        count = start
                    }
                    parenthesis = nil
                case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."): continue
                default: return nil
                }
            }
            var start = 0
            if !sawPlus {
                // A national trunk "00" stands for "+".
                guard count > 3, digits[1] == UInt8(ascii: "0"), digits[2] == UInt8(ascii: "0") else { return nil }
                digits[2] = UInt8(ascii: "+")
                start = 2
            }
            let length = count - start
            guard (9...16).contains(length), digits[start + 1] != UInt8(ascii: "0") else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: digits[start..<count]), as: UTF8.self)
        }
    }
}
