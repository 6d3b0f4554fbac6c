using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace MLNetBackprop.Benchmarks.SideBySide;

/// <summary>
/// The PyTorch side of one side-by-side run: the fastest peer, PyTorch 1.13 on OpenBLAS — on Debian 12 the
/// packages python3-torch and libopenblas0-pthread (from the distribution, not from a Python package index). Hands
/// Peers/pytorch_peer.py a spec with our initial weights and our trainer's mini-batch order, so both libraries train
/// the same network on the same batches; optional, like TorchSharp (`--with-pytorch`).
/// </summary>
public static class PyTorchRunner
{
    /// <summary>The distribution's Python, where its torch package is installed, if present.</summary>
    private static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static string Script => Path.Combine(AppContext.BaseDirectory, "Peers", "pytorch_peer.py");

    /// <summary>Whether a Python with torch can be started here.</summary>
    public static bool IsAvailable(out string version)
    {
        version = "";
        try
        {
            var psi = new ProcessStartInfo(Python, ["-c", "import torch; print(torch.__version__)"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            version = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && File.Exists(Script);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Runs <paramref name="workload"/> in a Python process; W4 scores the parameters W2 saved to <paramref name="paramsFile"/>.</summary>
    public static RunRecord Run(string workload, int round, string? paramsFile, Mnist data)
    {
        var w = Workload.ById(workload);
        string dir = Directory.CreateTempSubdirectory("mlnetbackprop-pytorch-").FullName;
        try
        {
            string init = Path.Combine(dir, "init.f32"), order = Path.Combine(dir, "order.i32"), w1Init = Path.Combine(dir, "w1-init.f32");
            WriteParameters(init, w);
            WriteParameters(w1Init, Workload.W1);
            // NetworkTrainer's order: 0..m−1, shuffled in place at the start of every epoch by Random(Seed = round).
            var perm = Enumerable.Range(0, data.TrainCount).ToArray();
            var rng = new Random(round);
            using (var f = File.Create(order))
            {
                for (int e = 0; e < w.Epochs && w.BatchSize is not null; e++)
                {
                    rng.Shuffle(perm);
                    f.Write(MemoryMarshal.AsBytes(perm.AsSpan()));
                }
            }
            string dataDir = Path.Combine(AppContext.BaseDirectory, "data");
            var spec = new Dictionary<string, object?>
            {
                ["Workload"] = workload.ToUpperInvariant(),
                ["Round"] = round,
                ["Threads"] = OursRunner.Threads,
                ["Cores"] = Environment.ProcessorCount,
                ["Sizes"] = w.Sizes,
                ["Hidden"] = w.Hidden.ToString(),
                ["Output"] = w.Output.ToString(),
                ["Optimizer"] = w.Optimizer.ToString(),
                ["LearningRate"] = w.LearningRate,
                ["Momentum"] = w.Momentum,
                ["L2"] = w.L2,
                ["BatchSize"] = w.BatchSize,
                ["Epochs"] = w.Epochs,
                ["TrainFile"] = Path.Combine(dataDir, "mnist10k-train.csv.gz"),
                ["TestFile"] = Path.Combine(dataDir, "mnist10k-test.csv.gz"),
                ["InitFile"] = init,
                ["OrderFile"] = order,
                ["ParamsFile"] = workload.Equals("W4", StringComparison.OrdinalIgnoreCase) && paramsFile is not null && File.Exists(paramsFile) ? paramsFile : null,
                ["W1Sizes"] = Workload.W1.Sizes,
                ["W1Hidden"] = Workload.W1.Hidden.ToString(),
                ["W1Output"] = Workload.W1.Output.ToString(),
                ["W1InitFile"] = w1Init,
            };
            string specFile = Path.Combine(dir, "spec.json");
            File.WriteAllText(specFile, JsonSerializer.Serialize(spec));

            var psi = new ProcessStartInfo(Python, [Script, specFile]) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var (name, value) in Tuning) psi.Environment[name] = value;
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"{Script} exited with {p.ExitCode}: {stderr.Result}");
            string line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            var record = RunRecord.FromJson(line);
            if (record.EpochSeconds is { Length: > 0 }) record.Summarize(w.ParameterCount, data.TrainCount);
            if (workload.Equals("W4", StringComparison.OrdinalIgnoreCase) && spec["ParamsFile"] is null)
                record.Note = "trained W2 itself (no saved W2 parameters)";
            return record;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The PyTorch process's settings, chosen by measurement on this host (W1, s/epoch): out of the box 0.44 (its
    /// OpenMP threads spin while OpenBLAS's own threads run the products); OMP_WAIT_POLICY=PASSIVE 0.16; plus glibc
    /// malloc keeping freed blocks instead of returning each mini-batch's tensors to the kernel 0.13–0.18.
    /// OPENBLAS_NUM_THREADS=1 and jemalloc were no better. W4 without them: batch 100k rows/s instead of 242k, one row
    /// the same ~180 µs.
    /// </summary>
    public static readonly (string Name, string Value)[] Tuning =
    [
        ("OMP_WAIT_POLICY", "PASSIVE"),
        ("MALLOC_MMAP_THRESHOLD_", "33554432"),
        ("MALLOC_TRIM_THRESHOLD_", "4294967296"),
    ];

    /// <summary>W⁰ b⁰ W¹ b¹ … of <paramref name="w"/>'s initial weights (zero biases), float32 little-endian.</summary>
    private static void WriteParameters(string file, Workload w)
    {
        var all = new List<float>();
        var init = w.InitialWeights(OursRunner.InitSeed);
        for (int l = 0; l < init.Length; l++)
        {
            all.AddRange(init[l]);
            all.AddRange(new float[w.Sizes[l + 1]]);
        }
        File.WriteAllBytes(file, MemoryMarshal.AsBytes(all.ToArray().AsSpan()).ToArray());
    }
}
