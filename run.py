"""`python run.py` serves MinQing on http://127.0.0.1:8080 (embedded SQLite by default).

Under gunicorn: gunicorn -w 2 -b 127.0.0.1:8080 "run:app"
"""

import os

from app import create_app

app = create_app()

if __name__ == "__main__":
    app.run(
        host=os.environ.get("MINQING_HOST", "127.0.0.1"),
        port=int(os.environ.get("MINQING_PORT", "8080")),
        debug=False,
    )
