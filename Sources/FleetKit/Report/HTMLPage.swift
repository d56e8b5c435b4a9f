// The shell both self-contained pages share (the run report and a sweep's comparison): the
// document, its style sheet, and a section of heading, note and chart.

/// A self-contained HTML page: inline style, no scripts, no external assets.
enum HTMLPage {
    /// The style both pages use; `extra` adds page-specific rules.
    static func document(title: String, maxWidth: Int, extraStyle: String = "", body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(esc(title))</title>
        <style>
        body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: \(maxWidth)px; color: #222; }
        h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin: 28px 0 4px; }
        .sub { color: #555; margin: 0 0 14px; } .note { color: #555; font-size: 13px; margin: 0 0 8px; }
        svg { font-family: inherit; }
        \(extraStyle)
        </style></head><body>
        \(body)
        </body></html>
        """
    }

    /// A section: heading, explanatory note, content (a chart).
    static func section(_ heading: String, note: String, _ content: String) -> String {
        "<section><h2>\(esc(heading))</h2><p class=\"note\">\(esc(note))</p>\(content)</section>"
    }
}
