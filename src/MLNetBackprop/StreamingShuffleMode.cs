namespace MLNetBackprop;

/// <summary>
/// How a streamed training set is shuffled each epoch (<see cref="BackpropTrainerOptions.StreamingShuffle"/>), when
/// <see cref="BackpropTrainerOptions.Shuffle"/> is on. The trainer always shuffles the rows within each block
/// (<see cref="BackpropTrainerOptions.StreamingBlockRows"/>); the choice is whether the view is also asked for a shuffled
/// cursor, which mixes rows further apart than a block at a cost in CPU (ML.NET's binary .idv loader reads its blocks in a
/// random order and passes the rows through a pool of four of them).
/// </summary>
public enum StreamingShuffleMode
{
    /// <summary>
    /// The first scan checks whether the row order drifts: for every feature and target, the means over consecutive chunks
    /// of rows are compared with what a random order gives (a one-way analysis of variance). Rows in a random order are
    /// read in the view's order and shuffled within blocks, which is then as good as a full shuffle and cheaper; rows in a
    /// drifting order (sorted by a label, by time, by a feature) are read through the view's shuffled cursor. The choice
    /// and the statistic go to MLContext.Log.
    /// </summary>
    Auto,

    /// <summary>Every epoch asks the view for a shuffled cursor (when it can shuffle), and shuffles within blocks.</summary>
    View,

    /// <summary>Every epoch reads the view in its order and shuffles within blocks only.</summary>
    WithinBlocks,
}
