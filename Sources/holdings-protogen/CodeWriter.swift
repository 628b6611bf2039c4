import Foundation

/// Accumulates indented source lines.
final class CodeWriter {
    private(set) var text = ""
    private var indent = 0

    func line(_ string: String = "") {
        if string.isEmpty {
            text += "\n"
        } else {
            text += String(repeating: "    ", count: indent) + string + "\n"
        }
    }

    func block(_ opening: String, _ closing: String = "}", _ body: () -> Void) {
        line(opening)
        indent += 1
        body()
        indent -= 1
        line(closing)
    }

    /// A proto comment as `///` lines.
    func doc(_ comment: String) {
        var lines = comment.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        for raw in lines {
            let trimmed = raw.hasPrefix(" ") ? String(raw.dropFirst()) : raw
            line(trimmed.isEmpty ? "///" : "/// " + trimmed)
        }
    }
}

