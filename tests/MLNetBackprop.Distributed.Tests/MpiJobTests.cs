using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

// The ranks busy-poll for a while before yielding: two jobs at once on a small CI machine would oversubscribe its cores,
// and the timing assertions below would measure the contention instead of MpiAllreduce.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MLNetBackprop.Distributed.Tests;

/// <summary>
/// Real MPI jobs: each test starts <c>mpiexec -n N dotnet MLNetBackprop.Distributed.Worker.dll &lt;mode&gt;</c> and reads
/// what the ranks print. How MPICH's mpiexec (hydra 4.0.2) reacts to a rank that ends early, as measured here:
/// <list type="bullet">
/// <item>By default, a rank that exits without MPI_Finalize (any exit code) or is killed makes hydra kill every other
/// rank at once (about 0.2 s); the survivors print nothing, the job ends with the dead rank's code.</item>
/// <item>With <c>-disable-auto-cleanup</c>, a rank that exits leaves the others running: they see nothing more from it,
/// and only MpiAllreduce's timeout ends their wait. A rank killed by a signal still takes the others down at once.</item>
/// <item>A rank that hangs is invisible to hydra in either mode: only the timeout notices it, and Abort ends the job.</item>
/// </list>
/// So the survivor's message is tested with <c>-disable-auto-cleanup</c> and an exiting rank (the same path as a hung or
/// very slow rank, which is what the timeout is for), and with a hung rank and Abort under the default mpiexec; the
/// killed rank checks that the default mpiexec ends the job promptly, which is what matters when a rank crashes.
/// </summary>
public sealed class MpiJobTests
{
    private static readonly TimeSpan HardTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("shared", 2, 0)]
    [InlineData("shared", 2, 1)]
    [InlineData("shared", 2, 7)]
    [InlineData("shared", 2, 1_000_003)]
    [InlineData("shared", 3, 0)]
    [InlineData("shared", 3, 1)]
    [InlineData("shared", 3, 7)]
    [InlineData("shared", 3, 1_000_003)]
    [InlineData("ring", 2, 0)]
    [InlineData("ring", 2, 1)]
    [InlineData("ring", 2, 7)]
    [InlineData("ring", 2, 1_000_003)]
    [InlineData("ring", 3, 0)]
    [InlineData("ring", 3, 1)]
    [InlineData("ring", 3, 7)]
    [InlineData("ring", 3, 1_000_003)]
    public void RingSum_EveryRankGetsRingOrderSumBitForBit(string transport, int ranks, int n)
    {
        // The worker sums floats, then doubles (twice the bytes: the shared segment grows), then floats again.
        var run = Mpiexec(transport, ["-n", ranks.ToString()], "ring-sum", n.ToString());
        AssertEveryRankOk(run, ranks);
        AssertTransport(run, ranks, transport);
        if (ranks == 3 && n == 1_000_003)
        {
            // The data must be sensitive to the order of addition, or the bitwise comparison would prove nothing.
            var order = Regex.Match(run.Stdout, @"rank 0: .* differs from the ring's at (\d+) float and (\d+) double values");
            Assert.True(order.Success, run.Describe());
            Assert.True(int.Parse(order.Groups[1].Value) > 0 && int.Parse(order.Groups[2].Value) > 0, run.Describe());
        }
    }

    [Fact]
    public void RingSum_ChunksAboveTheMessageLimit_GoInSeveralMessages()
    {
        // 4000-byte messages: every chunk of 33,335 floats or doubles is split into dozens of messages, some of them
        // not a whole multiple of the limit.
        var run = Mpiexec("ring", ["-n", "3"], "ring-sum", "100003", "4000");
        AssertEveryRankOk(run, 3);
        AssertTransport(run, 3, "ring");
    }

    [Fact]
    public void SharedMemory_LeavesNoFileBehind()
    {
        // A folder of this test's own, so that no other job's segment can come or go in it meanwhile.
        string folder = Directory.CreateDirectory(Path.Combine("/dev/shm", $"mlnetbackprop-test-{Guid.NewGuid():N}")).FullName;
        try
        {
            // Floats, then doubles (the segment is set up again, larger), then floats: two segments, both gone.
            var run = Run(FindMpiexec(), ["-n", "2", "-env", "MLNETBACKPROP_MPI_SHARED_MEMORY_FOLDER", folder, DotnetHost(), WorkerDll(), "ring-sum", "100000"]);
            AssertEveryRankOk(run, 2);
            AssertTransport(run, 2, "shared");
            Assert.Empty(Directory.GetFileSystemEntries(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    // Rank 1 looks in a folder without the segment, as a rank on another machine would: it cannot map it.
    [InlineData(false)]
    // Rank 0 cannot even create it (its folder does not exist), as with a full or read-only /dev/shm.
    [InlineData(true)]
    public void SharedMemory_ARankThatCannotMapTheSegment_SendsEveryRankRoundTheRing(bool rank0Fails)
    {
        string shm = Directory.CreateDirectory(Path.Combine("/dev/shm", $"mlnetbackprop-test-{Guid.NewGuid():N}")).FullName;
        string empty = Directory.CreateTempSubdirectory("mpi-no-segment-").FullName;
        try
        {
            string missing = Path.Combine(empty, "does-not-exist");
            string folder0 = rank0Fails ? missing : shm, folder1 = rank0Fails ? shm : empty;
            // MPMD: one rank per program block, each with its own folder.
            var run = Run(FindMpiexec(), [
                "-n", "1", "-env", "MLNETBACKPROP_MPI_SHARED_MEMORY_FOLDER", folder0, DotnetHost(), WorkerDll(), "ring-sum", "1000", ":",
                "-n", "1", "-env", "MLNETBACKPROP_MPI_SHARED_MEMORY_FOLDER", folder1, DotnetHost(), WorkerDll(), "ring-sum", "1000"]);
            AssertEveryRankOk(run, 2);
            AssertTransport(run, 2, "ring");
            // The segment rank 0 created for nothing is gone too.
            Assert.Empty(Directory.GetFileSystemEntries(shm));
            Assert.Empty(Directory.GetFileSystemEntries(empty));
        }
        finally
        {
            Directory.Delete(shm, recursive: true);
            Directory.Delete(empty, recursive: true);
        }
    }

    [Theory]
    // Before the first sum: the survivor waits in the set-up's exchange, over MPI, whatever the transport.
    [InlineData("shared", false)]
    // After one sum: the survivor waits in the shared segment, for a counter that never moves.
    [InlineData("shared", true)]
    [InlineData("ring", true)]
    public void DieInSum_RankExits_SurvivorNamesItWithinTheTimeout(string transport, bool later)
    {
        // -disable-auto-cleanup: without it hydra kills rank 0 as soon as rank 1 exits (see the class comment).
        var run = Mpiexec(transport, ["-disable-auto-cleanup", "-n", "2"], ["die-in-sum", "3", "exit", .. later ? ["later"] : Array.Empty<string>()]);
        Assert.True(run.Reports.Contains("Rank 0 received nothing from rank 1 for 3 s during the gradient sum"), run.Describe());
        if (later) AssertTransport(run, 2, transport);
        Assert.NotEqual(0, run.ExitCode);
        // The 3 s timeout was waited out, not cut short, and the job did not wait much longer either.
        Assert.InRange(run.Elapsed.TotalSeconds, 2.5, 30);
    }

    [Fact]
    public void DieInSum_RankKilled_MpiexecEndsTheJobAtOnce()
    {
        var run = Mpiexec("shared", ["-n", "2"], "die-in-sum", "30", "kill", "later");
        Assert.NotEqual(0, run.ExitCode);
        // Well before rank 0's 30 s timeout: hydra ends the job itself when a rank dies by a signal.
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(20), run.Describe());
    }

    [Theory]
    [InlineData("shared")]
    [InlineData("ring")]
    public void HangInSum_SurvivorNamesTheHungRankAndAbortEndsTheJob(string transport)
    {
        var run = Mpiexec(transport, ["-n", "2"], "hang-in-sum", "3", "later");
        Assert.True(run.Reports.Contains("Rank 0 received nothing from rank 1 for 3 s during the gradient sum"), run.Describe());
        AssertTransport(run, 2, transport);
        // MPI_Abort's code is the job's: the hung rank was ended with it instead of sleeping on.
        Assert.Equal(2, run.ExitCode);
        Assert.InRange(run.Elapsed.TotalSeconds, 2.5, 30);
    }

    [Theory]
    // At the first sum the set-up's exchange compares the lengths, whatever the transport.
    [InlineData("ring", 11, 10, false, "Rank 1 was called with 40 bytes during the gradient sum and rank 0 with 44: the ranks called it with buffers of different lengths")]
    // Later, over the ring: rank 0's first chunk (6 floats) is longer than rank 1's (5): MPI reports the truncation,
    // MpiAllreduce names the peer.
    [InlineData("ring", 11, 10, true, "Rank 1 failed receiving from rank 0 during the gradient sum: ")]
    // Shorter (5 floats where 6 were expected): MPI sees no error; MpiAllreduce's own count check does.
    [InlineData("ring", 10, 11, true, "Rank 1 received 20 bytes from rank 0 during the gradient sum where 24 were expected")]
    // Over shared memory: at the first sum, as over the ring; later, each call's header holds its length, and every
    // rank compares them.
    [InlineData("shared", 11, 10, false, "Rank 1 was called with 40 bytes during the gradient sum and rank 0 with 44: the ranks called it with buffers of different lengths")]
    [InlineData("shared", 10, 11, true, "Rank 1 was called with 44 bytes during the gradient sum and rank 0 with 40: the ranks called it with buffers of different lengths")]
    public void LengthMismatch_IsAnErrorNamingThePeer(string transport, int n0, int n, bool later, string expected)
    {
        var run = Mpiexec(transport, ["-n", "2"], ["length-mismatch", n0.ToString(), n.ToString(), .. later ? ["later"] : Array.Empty<string>()]);
        // When the ranks compare the lengths, both see the mismatch at once, and whichever aborts first may cut the
        // other's report short: either rank's message will do, each naming the other.
        string mirrored = Regex.Replace(expected, @"Rank 1 was called with (\d+) bytes during the gradient sum and rank 0 with (\d+)",
            m => $"Rank 0 was called with {m.Groups[2].Value} bytes during the gradient sum and rank 1 with {m.Groups[1].Value}");
        Assert.True(run.Reports.Contains(expected) || run.Reports.Contains(mirrored), run.Describe());
        Assert.Equal(2, run.ExitCode);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(20), run.Describe());
    }

    [Theory]
    // Shuffled mini-batches with dropout: each rank shuffles its shard and draws its dropout from a stream of its own.
    [InlineData("adam", 2, "shared")]
    // Full-batch L-BFGS: the sum of both shards' gradients at every evaluation.
    [InlineData("lbfgs", 2, "shared")]
    [InlineData("lbfgs", 2, "ring")]
    // In order, rows r, r + 3, … on rank r: the global batches are one process's batches.
    [InlineData("adam-inorder", 3, "shared")]
    // Over the ring: the whole sum, with chunks of unequal length.
    [InlineData("adam-inorder", 3, "ring")]
    public void Training_RanksOverMpi_HoldOneModel_TheRanksAsThreadsBitForBit_AndOneProcessToRounding(string optimizer, int ranks, string transport)
    {
        var run = Mpiexec(transport, ["-n", ranks.ToString()], "train", optimizer);
        var first = TrainLines(run, ranks);
        AssertTransport(run, ranks, transport);
        var again = TrainLines(Mpiexec(transport, ["-n", ranks.ToString()], "train", optimizer), ranks);
        // Over the ring the first-order steps sum the whole gradient (MpiAllreduce.PrepareSplit is false there), over
        // shared memory they split the sum: the threads do the same, or the chunks' bits would differ with 3 ranks.
        var threads = TrainLines(Run(DotnetHost(), [WorkerDll(), "train-threads", optimizer, ranks.ToString(), .. transport == "ring" ? ["whole"] : Array.Empty<string>()]), ranks);
        Assert.All(first, l => Assert.Equal(first[0], l)); // every rank the same weights
        Assert.Equal(first, again); // the same seed and rank count: the same bits
        Assert.Equal(threads, first); // MPI's sums add as RingOrder does in one process
        if (optimizer == "adam") return; // shuffled per shard: other batches than one process's, not comparable
        var single = TrainLines(Run(DotnetHost(), [WorkerDll(), "train-threads", optimizer, "1"]), 1)[0];
        // One process sums each batch's rows in one product, the ranks sum per shard and then add: float rounding apart.
        double lossRanks = double.Parse(first[0].Split(' ')[1], CultureInfo.InvariantCulture);
        double lossSingle = double.Parse(single.Split(' ')[1], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(lossRanks - lossSingle) <= 1e-6 * lossSingle, $"{ranks} ranks: loss {lossRanks:R}; one process: {lossSingle:R}");
    }

    /// <summary>Every rank reported that its sums took <paramref name="transport"/>'s path: a test of one path cannot silently test the other.</summary>
    private static void AssertTransport(RunResult run, int ranks, string transport)
    {
        for (int r = 0; r < ranks; r++)
            Assert.True(Regex.IsMatch(run.Stdout, $@"^rank {r}: transport {transport}$", RegexOptions.Multiline),
                $"rank {r} did not report transport {transport}.\n{run.Describe()}");
    }

    /// <summary>Each rank's "hash loss" from the train modes' lines, in rank order.</summary>
    private static string[] TrainLines(RunResult run, int ranks)
    {
        Assert.True(run.ExitCode == 0, run.Describe());
        return Enumerable.Range(0, ranks).Select(r =>
        {
            var m = Regex.Match(run.Stdout, $@"^rank {r}: train ([0-9A-F]{{16}} \S+)$", RegexOptions.Multiline);
            Assert.True(m.Success, $"rank {r} did not report its training.\n{run.Describe()}");
            return m.Groups[1].Value;
        }).ToArray();
    }

    [Fact]
    public void ALibraryThatIsNotMpi_IsRefusedWithItsName()
    {
        var run = Run(DotnetHost(), [WorkerDll(), "ring-sum", "1"], new() { ["MLNETBACKPROP_MPI_LIBRARY"] = "libc.so.6" });
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("'libc.so.6' is not an MPI library", run.Stderr);
    }

    private static void AssertEveryRankOk(RunResult run, int ranks)
    {
        Assert.True(run.ExitCode == 0, run.Describe());
        var hashes = new HashSet<string>();
        for (int r = 0; r < ranks; r++)
        {
            var line = Regex.Match(run.Stdout, $@"^rank {r}: ring-sum ok ([0-9a-f]{{16}})$", RegexOptions.Multiline);
            Assert.True(line.Success, $"rank {r} did not report ring-sum ok.\n{run.Describe()}");
            hashes.Add(line.Groups[1].Value);
        }
        Assert.True(hashes.Count == 1, $"The ranks ended with different bits.\n{run.Describe()}");
    }

    /// <summary>
    /// An MPI job whose sums take <paramref name="transport"/>'s path: "shared" (the default, all ranks on this machine)
    /// or "ring" (MLNETBACKPROP_MPI_SHARED_MEMORY=0, as on ranks spread over machines). mpiexec passes the environment on.
    /// </summary>
    private static RunResult Mpiexec(string transport, string[] mpiexecArgs, params string[] workerArgs) =>
        Run(FindMpiexec(), [.. mpiexecArgs, DotnetHost(), WorkerDll(), .. workerArgs],
            new() { ["MLNETBACKPROP_MPI_SHARED_MEMORY"] = transport switch { "shared" => "1", "ring" => "0", _ => throw new ArgumentOutOfRangeException(nameof(transport)) } });

    private static string FindMpiexec()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "mpiexec");
            if (File.Exists(candidate)) return candidate;
        }
        // Failing, not skipping: a skipped test would let the MPI code go untested without anyone noticing.
        Assert.Fail("mpiexec is not on PATH. These tests need MPICH (Debian: apt-get install mpich); .ci/run installs it when missing.");
        return null!;
    }

    /// <summary>The dotnet host running this test (the SDK sets DOTNET_HOST_PATH for its children), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string WorkerDll()
    {
        const string name = "MLNetBackprop.Distributed.Worker.dll";
        // The project reference copies the worker (with its runtimeconfig) next to the test assembly; the worker's own
        // output directory is the fallback for a runner that copies only the test assembly's dependencies.
        string beside = Path.Combine(AppContext.BaseDirectory, name);
        if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json"))) return beside;
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string own = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..",
            "MLNetBackprop.Distributed.Worker", "bin", configuration, "net10.0", name));
        if (File.Exists(own)) return own;
        Assert.Fail($"The worker was not found at {beside} nor at {own}; build tests/MLNetBackprop.Distributed.Worker.");
        return null!;
    }

    /// <param name="Reports">What the ranks wrote to their report files (see the worker's Report), then their stderr.</param>
    private sealed record RunResult(string CommandLine, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, string Reports = "")
    {
        public string Describe() =>
            $"{CommandLine}\nexit code {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}\n--- reports\n{Reports}";
    }

    private static RunResult Run(string fileName, string[] args, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? []) start.Environment[key] = value;
        // Each job's own report folder: the ranks write their failure messages there, which MPI_Abort cannot cut short.
        string reports = Directory.CreateTempSubdirectory("mpi-job-").FullName;
        start.Environment["MLNETBACKPROP_WORKER_REPORTS"] = reports;
        try
        {
            return RunIn(start, fileName, args, reports);
        }
        finally
        {
            Directory.Delete(reports, recursive: true);
        }
    }

    private static RunResult RunIn(ProcessStartInfo start, string fileName, string[] args, string reports)
    {
        string commandLine = fileName + " " + string.Join(" ", args);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        var watch = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(HardTimeout))
        {
            // mpiexec's proxies and the ranks are its descendants; all of them go, or a hung rank outlives the test.
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"Killed after the hard timeout of {HardTimeout.TotalSeconds} s.\n"
                + new RunResult(commandLine, -1, stdout.ToString(), stderr.ToString(), watch.Elapsed).Describe());
        }
        process.WaitForExit(); // the parameterless wait also drains the redirected streams
        string written = string.Concat(Directory.GetFiles(reports).Order(StringComparer.Ordinal).Select(File.ReadAllText));
        return new RunResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString(), watch.Elapsed, written + stderr);
    }
}
