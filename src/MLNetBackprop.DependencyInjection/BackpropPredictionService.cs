using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

namespace MLNetBackprop.DependencyInjection;

/// <summary>
/// Pools <see cref="PredictionEngine{TSrc, TDst}"/>s (which are not thread-safe) over a model loaded from a file. With
/// reloading on, a change to the file loads the new model in the background and swaps it in atomically; a file that
/// cannot be read (for example, half written) leaves the current model in service and is logged.
/// </summary>
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

    public BackpropPredictionService(MLContext ml, string path, bool reloadOnChange, ILogger? logger)
    {
        _ml = ml;
        _path = Path.GetFullPath(path);
        _logger = logger;
        _current = Load();
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

    public TOutput Predict(TInput example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var generation = _current;
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

    /// <summary>Loads the model now (also used by the file watcher); keeps the current model if the file is unreadable.</summary>
    internal bool TryReload()
    {
        lock (_reloadLock)
        {
            try
            {
                _current = Load();
                _logger?.LogInformation("Reloaded the model {Path} (version {Version}).", _path, ModelVersion);
                return true;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                _logger?.LogWarning(e, "Could not reload the model {Path}; the previous model stays in service.", _path);
                return false;
            }
        }
    }

    private void ScheduleReload()
    {
        // Writers often touch a file several times; wait until it has been quiet for a moment.
        var timer = new Timer(_ => TryReload(), null, 250, Timeout.Infinite);
        Interlocked.Exchange(ref _debounce, timer)?.Dispose();
    }

    private Generation Load()
    {
        if (!File.Exists(_path)) throw new FileNotFoundException($"The model file '{_path}' does not exist.", _path);
        ITransformer model;
        using (var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read))
            model = _ml.Model.Load(stream, out _);
        var generation = new Generation(_ml, model);
        generation.Return(generation.Rent()); // build one engine now, so a model that cannot score fails here, not in Predict
        Interlocked.Increment(ref _version);
        return generation;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
    }

    /// <summary>One loaded model and its pool of engines.</summary>
    private sealed class Generation(MLContext ml, ITransformer model)
    {
        private readonly ConcurrentBag<PredictionEngine<TInput, TOutput>> _pool = [];
        private readonly int _maxPooled = Environment.ProcessorCount * 4;

        public PredictionEngine<TInput, TOutput> Rent() =>
            _pool.TryTake(out var engine) ? engine : ml.Model.CreatePredictionEngine<TInput, TOutput>(model);

        public void Return(PredictionEngine<TInput, TOutput> engine)
        {
            if (_pool.Count < _maxPooled) _pool.Add(engine);
            else engine.Dispose();
        }
    }
}
