using System.Diagnostics;

namespace MLNetBackprop.Tests;

/// <summary>
/// The reliability campaign (tests/MLNetBackprop.Campaign, run by hand: it takes minutes) works end to end: the parent
/// runs a category in a child process, counts the trials the child reports and writes the table. Here only the
/// predict-time category of the quick run, a few seconds.
/// </summary>
public sealed class CampaignSmokeTests : IDisposable
{
    private readonly string _folder = PersistenceHarness.NewFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string CampaignDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = dir.Name, config = dir.Parent!.Name;
        var testsDir = dir.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(testsDir, "MLNetBackprop.Campaign", "bin", config, tfm, "MLNetBackprop.Campaign.dll");
        Assert.True(File.Exists(dll), $"The campaign was not built: {dll}");
        return dll;
    }

    [Fact]
    public async Task ThePredictCategoryRunsInAChildProcess_AndTheLibrarysPathsPass()
    {
        string report = Path.Combine(_folder, "campaign.md");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { CampaignDll(), "--only", "predict", "--quick", "--out", report }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(180)); // a hang guard, not a timing assertion
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The campaign did not finish in 180 s.");
        }
        string output = await stdout, errors = await stderr;
        Assert.True(process.ExitCode == 0, $"The campaign failed (exit {process.ExitCode}):\n{errors}\n{output}");
        var text = File.ReadAllText(report);
        Assert.Contains("| Predict, engine: NaN feature ", text);
        Assert.Contains("| library paths (LoadModel, DI service, fit, predict, save, serving, cancel) ", text);
        Assert.Contains("**PASS**", text);
        Assert.Equal(text.Trim(), output.Trim());
    }
}
