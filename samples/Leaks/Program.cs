using System;

// This project exists to be analysed, not run: `bash eng/demo.sh` builds it and lists what TDG001 finds.
Console.WriteLine("samples/Leaks leaks connections on purpose; run `bash eng/demo.sh` to see the TDG001 findings.");
