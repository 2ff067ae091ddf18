using System.Collections.Generic;
using System.Text;

namespace CodebaseGenerator;

/// <summary>Builds one source file line by line and knows the 1-based number of the next line.</summary>
internal sealed class CodeWriter
{
    private readonly List<string> _lines = new();
    private int _indent;

    public int NextLine => _lines.Count + 1;

    public int LineCount => _lines.Count;

    /// <summary>Writes a line and returns its 1-based number.</summary>
    public int Line(string text = "")
    {
        _lines.Add(text.Length == 0 ? "" : new string(' ', _indent * 4) + text);
        return _lines.Count;
    }

    public void Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
    }

    public void Close(string closing = "}")
    {
        _indent--;
        Line(closing);
    }

    public override string ToString()
    {
        var builder = new StringBuilder();
        foreach (var line in _lines)
        {
            builder.Append(line).Append('\n');
        }

        return builder.ToString();
    }
}
