namespace MLNetBackprop.Tests;

/// <summary>The README's quick-start code block is the compiled, marked region of samples/QuickStart/ReadmeExample.cs, and it runs.</summary>
public sealed class ReadmeTests
{
    private const string SnippetFile = "samples/QuickStart/ReadmeExample.cs";

    [Fact]
    public void ReadmeQuickStartCodeBlock_EqualsTheCompiledExample()
    {
        string root = RepositoryRoot();
        var source = File.ReadAllLines(Path.Combine(root, SnippetFile));
        int start = Array.FindIndex(source, l => l.Trim() == "// <readme>");
        int end = Array.FindIndex(source, l => l.Trim() == "// </readme>");
        Assert.True(start >= 0 && end > start, $"{SnippetFile} has no // <readme> ... // </readme> region.");
        var region = source[(start + 1)..end];
        int indent = region.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var expected = region.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()).ToArray();

        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        int marker = Array.FindIndex(readme, l => l.Contains($"<!-- compiled from {SnippetFile}", StringComparison.Ordinal));
        Assert.True(marker >= 0, $"README.md has no '<!-- compiled from {SnippetFile} -->' marker before its quick-start block.");
        int open = Array.FindIndex(readme, marker, l => l.StartsWith("```csharp", StringComparison.Ordinal));
        int close = Array.FindIndex(readme, open + 1, l => l.StartsWith("```", StringComparison.Ordinal));
        var block = readme[(open + 1)..close];
        Assert.Equal(string.Join('\n', expected), string.Join('\n', block));
    }

    [Fact]
    public void ReadmeQuickStart_Runs()
    {
        var writer = new StringWriter();
        var console = Console.Out;
        ComparisonResult table;
        try
        {
            Console.SetOut(writer);
            table = QuickStart.ReadmeExample.Run(Datasets.PathOf("breast-cancer.txt"));
        }
        finally
        {
            Console.SetOut(console);
        }
        Assert.Contains("Test AUC", writer.ToString());
        Assert.Equal(3, table.Rows.Count);
        Assert.Equal(5, table.FoldCount);
        Assert.Contains("5-fold cross-validation (seed 0)", table.Description);
        Assert.All(table.Rows, r => Assert.True(r.Metric("AUC")!.Mean > 0.98, table.ToText()));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNetBackprop.sln"))) return dir.FullName;
        throw new InvalidOperationException("MLNetBackprop.sln not found above " + AppContext.BaseDirectory);
    }
}
