namespace MLNetBackprop;

/// <summary>How <see cref="BackpropTrainer"/> holds the training rows (<see cref="BackpropTrainerOptions.DataLoading"/>).</summary>
public enum DataLoadingMode
{
    /// <summary>In memory when the estimated size fits <see cref="BackpropTrainerOptions.MemoryBudgetBytes"/>, streamed otherwise.</summary>
    Auto,

    /// <summary>Copied into memory once, before the first step (fastest when it fits).</summary>
    InMemory,

    /// <summary>Read from the IDataView's cursor block by block, every epoch: memory does not grow with the row count.</summary>
    Streaming,
}
