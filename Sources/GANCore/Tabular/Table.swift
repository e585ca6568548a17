import CSV
import Foundation

/// A CSV table with a header, as text: read by CSV.swift (RFC 4180 quoting, UTF-8) and
/// checked — no empty file, no header without rows, every row as wide as the header, no
/// unnamed or repeated column, valid UTF-8 — each fault one line naming the file.
public struct Table: Equatable, Sendable {
    public let header: [String]
    /// rows × header.count fields.
    public let rows: [[String]]

    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// The most rows and columns a table may have (10⁷ and 1000).
    public static let maximumRows = 10_000_000, maximumColumns = 1000

    public static func read(_ path: String) throws -> Table {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GANError("\(path): cannot be read (no such file, or no permission)")
        }
        return try parse(Array(data), path: path)
    }

    /// Parses a CSV file's bytes; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> Table {
        guard !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else {
            throw GANError("\(path): an empty file (a CSV table needs a header row and rows)")
        }
        // CSV.swift reports bad UTF-8 through its error property; checking first names the row.
        if String(validating: bytes, as: UTF8.self) == nil {
            let line = badUTF8Line(bytes)
            throw GANError("\(path): not UTF-8 text (line \(line)); save the table as UTF-8")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: InputStream(data: Data(bytes)), codecType: UTF8.self, hasHeaderRow: true)
        } catch {
            throw GANError("\(path): cannot read its header row")
        }
        let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
        if let first = header.first, first.hasPrefix("\u{FEFF}") {
            return try parse(Array(bytes.dropFirst(3)), path: path)  // a byte-order mark
        }
        guard !header.isEmpty, header.count <= maximumColumns else {
            throw GANError("\(path): the header has \(header.count) columns; 1 to \(maximumColumns)")
        }
        if let blank = header.firstIndex(where: \.isEmpty) {
            throw GANError("\(path): column \(blank + 1) of the header has no name")
        }
        var seen = Set<String>()
        for name in header where !seen.insert(name).inserted {
            throw GANError("\(path): the header names column '\(name)' twice")
        }
        var rows: [[String]] = []
        while let row = reader.next() {
            // A blank line (one empty field) is not a row.
            if row.count == 1, row[0].isEmpty { continue }
            guard row.count == header.count else {
                throw GANError("\(path): row \(rows.count + 1) has \(row.count) fields, the header \(header.count) (a ragged table)")
            }
            rows.append(row)
            guard rows.count <= maximumRows else { throw GANError("\(path): more than \(maximumRows) rows") }
        }
        if let error = reader.error {
            throw GANError("\(path): unreadable after row \(rows.count): \(error)")
        }
        guard !rows.isEmpty else { throw GANError("\(path): a header and no rows") }
        return Table(header: header, rows: rows)
    }

    private static func badUTF8Line(_ bytes: [UInt8]) -> Int {
        var line = 1, start = 0
        for (i, byte) in bytes.enumerated() where byte == 0x0A {
            if String(validating: bytes[start..<i], as: UTF8.self) == nil { return line }
            line += 1
            start = i + 1
        }
        return line
    }

    /// The table as CSV text (RFC 4180 quoting: a field with a comma, quote, line break or
    /// edge spaces is quoted, its quotes doubled; lines end in \n, as most tools write).
    public func csv() -> String {
        func field(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || text != text.trimmingCharacters(in: .whitespaces) else {
                return text
            }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var out = header.map(field).joined(separator: ",") + "\n"
        for row in rows { out += row.map(field).joined(separator: ",") + "\n" }
        return out
    }
}
