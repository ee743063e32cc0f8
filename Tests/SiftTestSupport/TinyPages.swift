/// The two-page collection (leave policy, expenses) that the pipeline-runner and CLI tests index: small enough to
/// embed in a moment, with headings, anchors and distinct facts to ask about.
public enum TinyPages {
    /// File name → HTML.
    public static let pages: [String: String] = [
        "leave.html": """
        <html><head><title>Leave policy</title></head><body><main>
        <h1 id="leave">Leave policy</h1>
        <h2 id="vacation">Vacation</h2>
        <p>Every employee gets 25 vacation days per year. Unused days carry over until March.</p>
        <h2 id="sick">Sick leave</h2>
        <p>Call your manager before 9am when you are ill. A doctor's note is needed after three days.</p>
        </main></body></html>
        """,
        "expenses.html": """
        <html><head><title>Expenses</title></head><body><main>
        <h1 id="expenses">Expenses</h1>
        <p>Submit receipts within 30 days through the finance portal. Flights must be booked in economy class.</p>
        <h2 id="meals">Meals</h2>
        <p>Meals during business travel are reimbursed up to 50 euros per day.</p>
        </main></body></html>
        """,
    ]

    /// A pipeline over `docs/*.html` next to the YAML file, indexing into `.sift/tiny`, with the bi-encoder at
    /// `model` and `answers` answers per question.
    public static func pipelineYAML(model: String, answers: Int) -> String {
        """
        name: tiny
        source: { root: docs, include: ["*.html"] }
        chunker: { max_tokens: 128, overlap_tokens: 0 }
        embedder: { model: \(model) }
        index: { path: .sift/tiny }
        retriever: { top_k: 10 }
        answers: { top_k: \(answers) }
        """
    }
}
