using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLNetBackprop.Persistence;

namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// Pools <see cref="PredictionEngine{TSrc, TDst}"/>s (which are not thread-safe) over a model loaded from a file. With
/// reloading on, a change to the file loads the new model in the background and swaps it in atomically; a file that
/// cannot be loaded (half written, truncated, corrupt, crafted) leaves the current model in service and is logged.
/// </summary>
/// <remarks>
/// <para>The model is loaded with <see cref="BackpropCatalog.LoadModel(Stream, out Microsoft.ML.DataViewSchema, TimeSpan?)"/>: the file
/// is verified (the whole-file checksum of <see cref="BackpropCatalog.SaveModel"/>, the network's SHA-256) and scored by
/// the library's own transformer, bit for bit as before saving. A file without a backpropagation network is loaded
/// with ML.NET's <c>Model.Load</c>, unverified, as Microsoft.Extensions.ML would.</para>
/// <para>Engines are never disposed one by one while their model is in service: engines created over one loaded model
/// can share native state (ML.NET's OnnxTransformer shares one ONNX Runtime session among them, and disposing one
/// engine disposes it — which crashed the process under load). The pool keeps every engine it has made (as many as
/// there were concurrent callers at the peak) and disposes them, and the model, when the model has been replaced and
/// the last call that was using it has returned.</para>
/// </remarks>
internal sealed class BackpropPredictionService<TInput, TOutput> : IBackpropPredictionService<TInput, TOutput>, IDisposable
    where TInput : class
    where TOutput : class, new()
{
    private readonly MLContext _ml;
    private readonly string _path;
    private readonly ILogger? _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly object _reloadLock = new();
    private volatile Generation _current;
    private Timer? _debounce;
    private int _version;
    private bool _disposed;
    private Task? _abandoned;

    public BackpropPredictionService(MLContext ml, string path, bool reloadOnChange, ILogger? logger, TimeSpan? loadTimeout = null)
    {
        LoadTimeout = loadTimeout ?? TimeSpan.FromMinutes(2);
        _ml = ml;
        _path = Path.GetFullPath(path);
        _logger = logger;
        _current = LoadWithin(LoadTimeout);
        _version = 1;
        if (!reloadOnChange) return;
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => ScheduleReload();
        _watcher.Created += (_, _) => ScheduleReload();
        _watcher.Renamed += (_, _) => ScheduleReload();
        _watcher.EnableRaisingEvents = true;
    }

    public int ModelVersion => Volatile.Read(ref _version);

    /// <summary>The model in service (for tests: which transformer the service scores with).</summary>
    internal ITransformer CurrentModel => _current.Model;

    /// <summary>How many engines the model in service has made (for tests).</summary>
    internal int EnginesCreated => _current.Created;

    public TOutput Predict(TInput example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var generation = Acquire();
        try
        {
            var engine = generation.Rent();
            try
            {
                return engine.Predict(example);
            }
            finally
            {
                generation.Return(engine);
            }
        }
        finally
        {
            generation.Release();
        }
    }

    /// <summary>The current generation with a use counted on it; retried if it was retired in between.</summary>
    private Generation Acquire()
    {
        while (true)
        {
            var generation = _current;
            if (generation.TryAcquire()) return generation;
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        }
    }

    /// <summary>
    /// How long a load may take before it is given up. ML.NET's own loader can spin forever on some damaged files
    /// (a schema entry whose VBuffer codec claims more dimensions than it holds); such a load is abandoned on its thread
    /// and the current model stays in service.
    /// </summary>
    internal TimeSpan LoadTimeout { get; }

    /// <summary>
    /// Loads the model now (also used by the file watcher). Never throws: whatever goes wrong with the file keeps the
    /// current model in service and is logged as a warning.
    /// </summary>
    internal bool TryReload()
    {
        lock (_reloadLock)
        {
            if (_disposed) return false;
            if (_abandoned is { IsCompleted: false })
            {
                _logger?.LogWarning("Not reloading the model {Path}: an earlier load has still not finished after {Timeout}; the previous model (version {Version}) stays in service.",
                    _path, LoadTimeout, ModelVersion);
                return false;
            }
            Generation loaded;
            try
            {
                loaded = LoadWithin(LoadTimeout);
            }
            catch (Exception e)
            {
                _logger?.LogWarning(e, "Could not reload the model {Path}; the previous model (version {Version}) stays in service: {Reason}",
                    _path, ModelVersion, Innermost(e).Message);
                return false;
            }
            var previous = _current;
            _current = loaded;
            Interlocked.Increment(ref _version);
            previous.Release(); // the service's own use; disposed once the calls still using it return
            _logger?.LogInformation("Reloaded the model {Path} (version {Version}).", _path, ModelVersion);
            return true;
        }
    }

    /// <summary>Loads on a worker thread and waits at most <paramref name="timeout"/>; a late result is disposed.</summary>
    /// <exception cref="TimeoutException">The load did not finish in time (it is abandoned, not stopped).</exception>
    private Generation LoadWithin(TimeSpan timeout)
    {
        var loading = Task.Run(Load);
        try
        {
            if (loading.Wait(timeout)) return loading.Result;
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        _abandoned = loading;
        loading.ContinueWith(t => t.Result.Release(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        throw new TimeoutException($"Loading the model file '{_path}' did not finish within {timeout}; the file is probably damaged (ML.NET's loader can spin on some damaged files).");
    }

    private static Exception Innermost(Exception e)
    {
        while (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) e = inner;
        return e;
    }

    private void ScheduleReload()
    {
        // Writers often touch a file several times; wait until it has been quiet for a moment. The callback runs on a
        // thread-pool thread, where an exception would end the process: TryReload catches everything, and this guard
        // keeps even a failing logger from taking the server down.
        var timer = new Timer(_ =>
        {
            try
            {
                TryReload();
            }
            catch (Exception e)
            {
                try
                {
                    _logger?.LogError(e, "Reloading the model {Path} failed unexpectedly; the previous model stays in service.", _path);
                }
                catch (Exception)
                {
                    // Nothing left to report to.
                }
            }
        }, null, 250, Timeout.Infinite);
        Interlocked.Exchange(ref _debounce, timer)?.Dispose();
    }

    private Generation Load()
    {
        if (!File.Exists(_path)) throw new FileNotFoundException($"The model file '{_path}' does not exist.", _path);
        string source = $"Model file '{_path}'";
        byte[] bytes;
        using (var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read))
            bytes = BackpropModelLoader.ReadAll(stream, source);
        // Verified and scored by our own transformer; a file with no network of ours is loaded as ML.NET loads it.
        var model = BackpropModelLoader.Load(_ml, bytes, source, requireNetwork: false, Timeout.InfiniteTimeSpan, out _);
        var generation = new Generation(_ml, model);
        try
        {
            generation.Return(generation.Rent()); // build one engine now, so a model that cannot score fails here, not in Predict
        }
        catch
        {
            generation.Release();
            throw;
        }
        return generation;
    }

    public void Dispose()
    {
        lock (_reloadLock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _watcher?.Dispose();
        _debounce?.Dispose();
        _current.Release();
    }

    /// <summary>
    /// One loaded model and its engines. Counted uses: the service holds one while the model is current, each Predict
    /// one while it runs; the last release disposes the engines and the model.
    /// </summary>
    private sealed class Generation(MLContext ml, ITransformer model)
    {
        private readonly ConcurrentBag<PredictionEngine<TInput, TOutput>> _pool = [];
        private int _uses = 1;
        private int _created;

        public ITransformer Model => model;

        public int Created => Volatile.Read(ref _created);

        public bool TryAcquire()
        {
            while (true)
            {
                int uses = Volatile.Read(ref _uses);
                if (uses == 0) return false;
                if (Interlocked.CompareExchange(ref _uses, uses + 1, uses) == uses) return true;
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _uses) != 0) return;
            while (_pool.TryTake(out var engine)) engine.Dispose();
            (model as IDisposable)?.Dispose();
        }

        public PredictionEngine<TInput, TOutput> Rent()
        {
            if (_pool.TryTake(out var engine)) return engine;
            engine = ml.Model.CreatePredictionEngine<TInput, TOutput>(model);
            Interlocked.Increment(ref _created);
            return engine;
        }

        public void Return(PredictionEngine<TInput, TOutput> engine) => _pool.Add(engine);
    }
}
