using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetBackprop.Core;

namespace MLNetBackprop;

/// <summary>
/// The backpropagation trainers of an <see cref="MLContext"/>, reached through <c>mlContext.Backprop()</c>.
/// The task follows from the label column's type unless the options force it.
/// </summary>
public sealed class BackpropCatalog
{
    internal BackpropCatalog(IHostEnvironment environment)
    {
        Environment = environment;
    }

    internal IHostEnvironment Environment { get; }

    /// <summary>
    /// A multi-layer-perceptron trainer with the common settings; every other setting keeps its
    /// <see cref="BackpropTrainerOptions"/> default.
    /// </summary>
    /// <param name="labelColumnName">The label column: Boolean (binary), key (multiclass), Single or a known-size vector of Single (regression).</param>
    /// <param name="featureColumnName">The feature column, a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">Optional example-weight column (Single).</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null keeps the default [128].</param>
    /// <param name="maxEpochs">Epoch limit; null keeps the default 200.</param>
    /// <param name="learningRate">Initial learning rate; null keeps the optimizer's default.</param>
    /// <param name="task">The task; <see cref="BackpropTask.Auto"/> follows the label type.</param>
    public BackpropTrainer Trainer(string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName,
        string? exampleWeightColumnName = null, int[]? hiddenLayers = null, int? maxEpochs = null, double? learningRate = null,
        BackpropTask task = BackpropTask.Auto)
        => new(Environment, BackpropCatalogExtensions.MakeOptions(labelColumnName, featureColumnName, exampleWeightColumnName,
            hiddenLayers, maxEpochs, learningRate, task));

    /// <summary>A multi-layer-perceptron trainer with the given options (copied).</summary>
    public BackpropTrainer Trainer(BackpropTrainerOptions options) => new(Environment, options);

    /// <summary>
    /// Permutation feature importance of a fitted pipeline — what <c>pipeline.Fit</c> or <see cref="LoadModel(string, out DataViewSchema, TimeSpan?)"/>
    /// returns — on labeled data: finds the (last) <see cref="BackpropTransformer"/> in the chain, runs the transforms
    /// before it on <paramref name="data"/>, and runs ML.NET's permutation feature importance on the network, with the
    /// features named by the feature column's slot names. ML.NET's own overloads that take a whole pipeline refuse this
    /// model ("does not have a compatible predictor"); the ones that take the prediction transformer work, but need the
    /// data transformed by hand and give unnamed features.
    /// </summary>
    /// <param name="model">A fitted pipeline (or the transformer alone) holding a <see cref="BackpropTransformer"/>.</param>
    /// <param name="data">Data in the pipeline's input schema, with the label column the model was trained on (a held-out set).</param>
    /// <param name="permutationCount">How many times each feature is permuted (more gives a standard error); at least 1.</param>
    /// <param name="numberOfExamplesToUse">Score only the first this many rows; null uses all.</param>
    /// <exception cref="ArgumentException">The model holds no <see cref="BackpropTransformer"/> (for example a chain from a plain
    /// <c>mlContext.Model.Load</c>), or the data lacks the label or feature column.</exception>
    /// <exception cref="NotSupportedException">The model is a multi-output regression.</exception>
    public BackpropFeatureImportance PermutationFeatureImportance(ITransformer model, IDataView data, int permutationCount = 1,
        int? numberOfExamplesToUse = null)
        => PipelineFeatureImportance.Run(Environment as MLContext ?? new MLContext(), model, data, permutationCount, numberOfExamplesToUse);

    /// <summary>
    /// Trains <paramref name="model"/> for <paramref name="epochs"/> more epochs with the options it was trained with
    /// (<see cref="BackpropTransformer.Options"/>) and returns a new transformer with the history appended and, when the
    /// model still holds it, the optimizer state carried on; see <see cref="BackpropTrainer.ContinueTraining"/>.
    /// </summary>
    /// <param name="model">The trained model to go on from (not changed).</param>
    /// <param name="trainData">Training data with the columns the model was trained on.</param>
    /// <param name="epochs">How many more epochs (at most).</param>
    /// <param name="validationData">Optional validation data.</param>
    public BackpropTransformer ContinueTraining(BackpropTransformer model, IDataView trainData, int epochs, IDataView? validationData = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Trainer(model.Options).ContinueTraining(model, trainData, epochs, validationData);
    }

    /// <summary>
    /// Loads a model saved with <see cref="SaveModel"/> (or <c>mlContext.Model.Save</c>), verified, and returns the pipeline
    /// with every backpropagation network as a <see cref="BackpropTransformer"/> again — network, options and training
    /// history included — instead of the ONNX-based chain a plain <c>mlContext.Model.Load</c> gives: the same outputs as
    /// before saving, bit for bit, and faster scoring.
    /// </summary>
    /// <remarks>
    /// <para>What is verified before ML.NET reads the file: the whole archive against the manifest that
    /// <see cref="SaveModel"/> writes (every entry's length and SHA-256: the network and all other transforms); each
    /// network's weights against their SHA-256; and each network's ONNX graph, which must be exactly the graph this
    /// library writes for that network. A file saved with <c>mlContext.Model.Save</c> has no manifest: its networks are
    /// verified, its other transforms are not (a note says so in the MLContext log).</para>
    /// <para>Untrusted files: the archive is inflated within a bounded budget (64 MiB plus 16 times the file's size; a
    /// saved model inflates to about 1.1 times its size), sizes claimed in the file are checked against the data
    /// present before anything is allocated, and ONNX Runtime is never given a graph of ours that differs from what
    /// this library writes. The pipeline's other transforms are parsed by ML.NET itself, which warns to load only
    /// trusted models.</para>
    /// </remarks>
    /// <param name="filePath">The model file.</param>
    /// <param name="inputSchema">The input schema the model was saved with.</param>
    /// <param name="timeout">How long ML.NET's parsing of the pipeline may take; default 2 minutes. ML.NET's loader spins
    /// forever on some damaged files that pass every check of ours (a schema entry whose codec claims more values than it
    /// holds); such a load is abandoned on its own thread and <see cref="TimeoutException"/> is thrown.
    /// <see cref="Timeout.InfiniteTimeSpan"/> loads on the calling thread with no limit.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TimeoutException">ML.NET's loader did not finish within <paramref name="timeout"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not an ML.NET model, is corrupt, truncated or changed after
    /// saving, over the inflate budget, or holds no backpropagation network; the message names the file and the
    /// problem.</exception>
    public ITransformer LoadModel(string filePath, out DataViewSchema inputSchema, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        var limit = CheckTimeout(timeout);
        using var stream = File.OpenRead(filePath);
        return Persistence.BackpropModelLoader.Load(Context, stream, $"Model file '{filePath}'", limit, out inputSchema);
    }

    /// <summary>As <see cref="LoadModel(string, out DataViewSchema, TimeSpan?)"/>, from a stream (read to its end, left open).</summary>
    public ITransformer LoadModel(Stream stream, out DataViewSchema inputSchema, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Persistence.BackpropModelLoader.Load(Context, stream, "Model stream", CheckTimeout(timeout), out inputSchema);
    }

    private static TimeSpan CheckTimeout(TimeSpan? timeout)
    {
        var t = timeout ?? Persistence.BackpropModelLoader.DefaultTimeout;
        if (t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "The load timeout must be positive (or Timeout.InfiniteTimeSpan for none).");
        return t;
    }

    /// <summary>
    /// Saves <paramref name="model"/> like <c>mlContext.Model.Save</c>, with a manifest of the whole archive (every entry's
    /// length and SHA-256) that <see cref="LoadModel(string, out DataViewSchema, TimeSpan?)"/> checks, and atomically: the zip is
    /// written to a temporary file in the target's folder, flushed to disk and moved over <paramref name="filePath"/>
    /// only when complete, so a failed save leaves any existing file untouched and no partial file behind. Temporary
    /// files that an earlier save left when its process was killed are removed (those no live save holds open).
    /// </summary>
    public void SaveModel(ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        string full = Path.GetFullPath(filePath);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string prefix = $".{Path.GetFileName(full)}.";
        string temp = Path.Combine(folder, $"{prefix}{Guid.NewGuid():N}.tmp");
        var archive = new MemoryStream();
        Context.Model.Save(model, inputSchema, archive);
        Persistence.ModelArchive.AddManifest(archive);
        try
        {
            // FileShare.None takes an exclusive lock (an advisory flock on Unix), which tells a concurrent save's clean-up
            // that this temporary file is alive.
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                archive.CopyTo(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        RemoveStaleTemporaryFiles(folder, prefix);
    }

    /// <summary>Deletes the temporary files of earlier saves of the same file whose writer is gone (killed mid-save).</summary>
    private static void RemoveStaleTemporaryFiles(string folder, string prefix)
    {
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, prefix + "*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var path in candidates)
        {
            string id = Path.GetFileName(path)[prefix.Length..^".tmp".Length];
            if (id.Length != 32 || !Guid.TryParseExact(id, "N", out _)) continue; // not one of ours
            try
            {
                // A save in progress holds its file open with an exclusive lock: this open fails and the file is kept.
                using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                    File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use by a live save, or already gone.
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Writes the network of <paramref name="transformer"/> as a standard ONNX model (see
    /// <see cref="BackpropTransformer.ExportOnnx(Stream)"/>).
    /// </summary>
    public void ExportOnnx(BackpropTransformer transformer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        transformer.ExportOnnx(stream);
    }

    /// <summary>
    /// Writes a whole fitted pipeline that ends in a <see cref="BackpropTransformer"/> as one ONNX model: the transforms
    /// before the network as ML.NET's own ONNX converter exports them, wired to the network's graph (see
    /// <see cref="BackpropTransformer.ExportOnnx(Stream)"/>). Its inputs are the raw columns the featurization reads (float
    /// columns as [N, width], as ML.NET's converter writes them); its outputs are the network's columns, named as in
    /// <c>Transform</c>'s output: Score, and Probability and PredictedLabel for binary classification, PredictedLabel (the
    /// 0-based class index, int64) for multiclass. Use this instead of <c>mlContext.Model.ConvertToOnnx</c>, which cannot
    /// see into this library's transformer and writes a graph without the network.
    /// </summary>
    /// <param name="model">The fitted pipeline (nested chains are opened); it must hold exactly one
    /// <see cref="BackpropTransformer"/>, with nothing after it.</param>
    /// <param name="inputData">Data with the pipeline's input schema (ML.NET's converter reads its schema).</param>
    /// <param name="stream">Where to write; left open. Nothing is written when the export fails.</param>
    /// <exception cref="ArgumentException">The model holds no <see cref="BackpropTransformer"/> (e.g. it was read back with
    /// <c>MLContext.Model.Load</c>: read it with <see cref="LoadModel(string, out DataViewSchema, TimeSpan?)"/>), or the
    /// transforms before it do not produce the feature column the network reads.</exception>
    /// <exception cref="NotSupportedException">A transform follows the network; more than one network; or ML.NET's
    /// converter cannot export a transform before the network (the message names the transforms and the converter's
    /// reason).</exception>
    public void ExportOnnx(ITransformer model, IDataView inputData, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputData);
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(Onnx.PipelineOnnxExport.Export(model, inputData));
    }

    /// <summary>
    /// Rank <paramref name="rank"/>'s shard of <paramref name="data"/> for data-parallel training
    /// (<see cref="BackpropTrainerOptions.GradientAllreduce"/>): rows [rank·m/n, (rank + 1)·m/n) of its m rows, in order,
    /// for n = <paramref name="rankCount"/> ranks, so that the shards together hold every row once. A view that does not
    /// know its row count is counted by one pass. The shard reads past the rows before it (a text file has no index),
    /// but holds only its own; with one file per rank, pass each rank its own file instead.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is not in [0, <paramref name="rankCount"/>).</exception>
    public IDataView Shard(IDataView data, int rank, int rankCount)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(rankCount, 1);
        if (rank < 0 || rank >= rankCount)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank {rank} is not in [0, {rankCount}).");
        long rows = data.GetRowCount() ?? CountRows(data);
        long start = (long)((Int128)rows * rank / rankCount), end = (long)((Int128)rows * (rank + 1) / rankCount);
        var ml = Context;
        // ML.NET's SkipRows and TakeRows refuse a count of 0.
        var from = start > 0 ? ml.Data.SkipRows(data, start) : data;
        return end > start ? ml.Data.TakeRows(from, end - start) : ml.Data.SkipRows(ml.Data.TakeRows(from, 1), 1);
    }

    private static long CountRows(IDataView data)
    {
        long n = 0;
        using var cursor = data.GetRowCursor([]);
        while (cursor.MoveNext()) n++;
        return n;
    }

    private MLContext Context => Environment as MLContext ?? new MLContext();
}

