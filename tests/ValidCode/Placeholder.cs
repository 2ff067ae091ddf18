namespace ValidCode;
